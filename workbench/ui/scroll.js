// Brings a part of the page into view once (a Streamlit v2 component, see
// workbench/ui/__init__.py, scroll_into_view): the form after a drawing on a phone, the map
// after "Show on map". Only when the part is not already in view, so a wide screen, where map
// and list sit side by side, does not jump. With "focus", the first field of the part gets the
// focus (the note's form after a drawing or "Add a note here": a keyboard goes on from there).
export default function (component) {
    const data = component.data;
    const done = window.__wbScrolled || (window.__wbScrolled = {});
    if (!data.token || done[data.selector] === data.token) { return; }
    done[data.selector] = data.token;
    let tries = 0;
    const attempt = () => {
        const node = document.querySelector(data.selector);
        if (!node) { if (++tries < 40) { setTimeout(attempt, 100); } return; }
        const box = node.getBoundingClientRect();
        const view = window.innerHeight || document.documentElement.clientHeight;
        const inView = box.top >= 0 && box.bottom <= view;
        const partly = box.bottom > 0 && box.top < view;
        if (!inView && !(data.onlyIfHidden && partly)) {
            node.scrollIntoView({block: data.block || "start", behavior: "instant"});
        }
        if (data.focus && !node.contains(document.activeElement)) {
            const field = node.querySelector(data.focus);
            if (field) { field.focus({preventScroll: true}); }
        }
    };
    setTimeout(attempt, 50);
}
