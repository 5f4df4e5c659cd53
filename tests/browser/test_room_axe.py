"""Issue 12, accessibility: axe-core (the npm package, injected here; it is no part of the app)
on every page finds no "serious" or "critical" violation of WCAG 2.2 AA, except those listed
in the README ("Accessibility"), each with why, in ACCEPTED below."""

import json

import pytest
from browser_helpers import wait_for_streamlit

from tests.helpers import MUNICH_LAB

AXE_URL = "https://cdn.jsdelivr.net/npm/axe-core@4.14.1/axe.min.js"
PAGES = [
    "",
    "setup",
    f"map?lab={MUNICH_LAB}",
    f"layers?lab={MUNICH_LAB}",
    f"compare?lab={MUNICH_LAB}",
    "network",
    f"export?lab={MUNICH_LAB}",
    f"workshop?lab={MUNICH_LAB}",
    f"present?lab={MUNICH_LAB}",
    "join",
]
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
#: (rule id, where) of the violations the README lists with why they remain.
ACCEPTED: set[tuple[str, str]] = set()


def axe_violations(page, web_assets) -> list[dict]:
    """Serious and critical violations on the page (its own document; the map frames are
    Leaflet's and are checked where the page embeds them)."""
    page.add_script_tag(content=web_assets[AXE_URL].read_text(encoding="utf-8"))
    result = page.evaluate(
        """async (tags) => {
        const r = await axe.run(document, {runOnly: {type: "tag", values: tags},
                                           iframes: false, resultTypes: ["violations"]});
        return r.violations.filter(v => ["serious", "critical"].includes(v.impact))
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.slice(0, 4).map(n => n.target.join(" ") + " :: " +
                                                       n.html.slice(0, 160))}));
    }""",
        TAGS,
    )
    return result


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "de", "uk"])
def test_axe_on_every_page(app_server, new_page, web_assets, lang):
    page = new_page()
    found = {}
    for path in PAGES:
        sep = "&" if "?" in path else "?"
        page.goto(f"{app_server}/{path}{sep}lang={lang}")
        wait_for_streamlit(page)
        page.wait_for_timeout(1500)
        first = axe_violations(page, web_assets)
        if first:  # looked at again once the page has settled: a rerun's passing state is
            wait_for_streamlit(page)  # not a violation of the page, what stays is
            page.wait_for_timeout(3000)
            again = {v["id"] for v in axe_violations(page, web_assets)}
            first = [v for v in first if v["id"] in again]
        for v in first:
            where = path.split("?")[0] or "home"
            if (v["id"], where) not in ACCEPTED and (v["id"], "*") not in ACCEPTED:
                found[f"{where}: {v['id']}"] = v
    print(json.dumps(found, indent=1, ensure_ascii=False))
    assert found == {}, json.dumps(found, indent=1, ensure_ascii=False)
