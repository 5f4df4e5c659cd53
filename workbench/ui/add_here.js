// "Add a note here" inside the living-lab map (folium iframe; see workbench/ui/keyboard.py): a
// button that puts a point at the centre of the current view, without the drawing toolbar, so
// that a tap on a phone or Enter on a keyboard adds a point. The point is reported as the
// drawing toolbar reports one ("draw:created"): st_folium hands it to the page, which opens
// the note's form. A "+" marks the centre: always on a narrow map, where the button is large
// and sits just below it; on a wide map while the button is focused or under the pointer.
function wbAddHere(map, texts) {
    // before the controls: the first stop of Tab after the map itself
    const container = map.getContainer();
    const cross = L.DomUtil.create("div", "wb-add-here-cross");
    const box = L.DomUtil.create("div", "wb-add-here");
    container.insertBefore(cross, map._controlContainer || null);
    container.insertBefore(box, map._controlContainer || null);
    cross.setAttribute("aria-hidden", "true");
    const button = L.DomUtil.create("button", "wb-add-here-button", box);
    button.type = "button";
    button.textContent = texts.label;
    button.title = texts.title;
    button.setAttribute("aria-description", texts.title);
    L.DomEvent.disableClickPropagation(box);
    L.DomEvent.disableScrollPropagation(box);
    L.DomEvent.on(button, "click", (event) => {
        L.DomEvent.preventDefault(event);
        const layer = L.circleMarker(map.getCenter());
        map.fire("draw:created", {layer: layer, layerType: "circlemarker"});
    });
    return button;
}
