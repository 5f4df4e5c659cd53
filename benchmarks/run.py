"""Run the benchmarks, print a table and write the figures as JSON.

Usage: ``python -m benchmarks.run [NAME ...]`` (names are the ``bench_<name>.py`` files; all by
default). Results go to ``benchmarks/results/<UTC time>.json`` and
``benchmarks/results/latest.json``.

Each benchmark module exposes ``run() -> list[dict]`` whose rows have ``name``, ``value``, ``unit``
and, where the workbench is compared with the plain peer pipeline in the same run, ``peer``,
``peer_value`` and ``ratio`` (peer time / our time for durations, so > 1 means faster than the
peer; our size / peer size for bytes). These are measurements, not tests: the machines are noisy.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    return "" if value is None else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all: {available()})")
    args = parser.parse_args(argv)
    names = args.names or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    sys.path.insert(0, str(HERE.parent))
    rows: list[dict] = []
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        print(f"running {name} …", file=sys.stderr, flush=True)
        for row in module.run():
            rows.append({"benchmark": name, **row})
    columns = ["benchmark", "name", "value", "unit", "peer", "peer_value", "ratio"]
    table = [[fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(t[i]) for t in table)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for t in table:
        print("  ".join(v.ljust(w) for v, w in zip(t, widths, strict=True)))
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    doc = {
        "when": datetime.now(UTC).isoformat(),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "rows": rows,
    }
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for path in (results / f"{stamp}.json", results / "latest.json"):
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"written {results / 'latest.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
