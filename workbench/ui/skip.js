// A skip link (a Streamlit v2 component, see workbench/ui/keyboard.py, skip_link): "Skip the
// map" before a map, so that someone using the keyboard reaches what follows it (the list of
// notes, the presenter's panel) without tabbing through the map. Hidden until it has the focus;
// Enter moves the focus to the target, from where Tab goes on.
export default function (component) {
    const data = component.data;
    const root = component.parentElement;
    let link = root.querySelector("a.wb-skip");
    if (!link) {
        link = document.createElement("a");
        link.className = "wb-skip";
        link.href = "#";
        root.appendChild(link);
        link.addEventListener("click", (event) => {
            event.preventDefault();
            const target = document.querySelector(link.dataset.target);
            if (!target) { return; }
            if (!target.hasAttribute("tabindex")) { target.setAttribute("tabindex", "-1"); }
            target.scrollIntoView({block: "start", behavior: "instant"});
            target.focus({preventScroll: true});
        });
    }
    link.textContent = data.label;
    link.dataset.target = data.target;
}
