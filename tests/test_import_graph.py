"""The house's floors, read from the source with ``ast`` (every import, also those inside
functions and under ``TYPE_CHECKING``): no import cycle among the ``workbench`` modules; the
store (``workbench/store``) is the bottom layer and imports none of export, maps, i18n or ui;
Streamlit is imported only by ``workbench/ui`` and ``pages/`` (and ``app.py``)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

STORE_MUST_NOT_IMPORT = ("workbench.export", "workbench.maps", "workbench.i18n", "workbench.ui")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(path: Path, name: str) -> set[str]:
    """Every module name ``path`` imports (``from a import b`` gives ``a`` and ``a.b``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _sources(*folders: str) -> dict[str, Path]:
    return {_module_name(p): p for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))}


def _graph() -> dict[str, set[str]]:
    modules = _sources("workbench")
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for target in _imported(path, name):
            while target not in modules and "." in target:
                target = target.rpartition(".")[0]  # ``from pkg.mod import function``
            if target in modules and target != name:
                edges.add(target)
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_reader_sees_lazy_imports_and_finds_a_cycle(tmp_path):
    """The reader itself: an import inside a function counts, and a circle is found."""
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from workbench.maps import x\n    import workbench.i18n\n")
    assert {"workbench.maps", "workbench.maps.x", "workbench.i18n"} <= _imported(
        source, "workbench.m"
    )
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset({"a", "b", "c"})]


def test_no_import_cycles_among_workbench_modules():
    graph = _graph()
    cycles = [sorted(c) for c in _cycles(graph)]
    assert not cycles, f"import cycles: {cycles}"


def test_the_store_is_the_bottom_layer():
    graph = _graph()
    store = [m for m in graph if m == "workbench.store" or m.startswith("workbench.store.")]
    assert "workbench.store.judge" in store
    upward = {m: sorted(t for t in graph[m] if t.startswith(STORE_MUST_NOT_IMPORT)) for m in store}
    assert not {m: t for m, t in upward.items() if t}, upward


def test_only_the_ui_and_the_pages_import_streamlit():
    checked = 0
    for name, path in _sources("workbench").items():
        if name == "workbench.ui" or name.startswith("workbench.ui."):
            continue
        checked += 1
        streamlit = sorted(
            m for m in _imported(path, name) if m == "streamlit" or m.startswith("streamlit.")
        )
        assert not streamlit, f"{path.relative_to(ROOT)} imports {streamlit}"
    assert checked > 30


def test_every_workbench_module_opens_with_a_docstring():
    missing = [
        str(path.relative_to(ROOT))
        for path in _sources("workbench").values()
        if not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert not missing, f"modules without a docstring: {missing}"
