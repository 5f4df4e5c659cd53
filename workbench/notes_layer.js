// The living lab's notes on a Leaflet map: the one notes layer of every map (the living-lab
// map and the presenter view, kept up to date by the page's live channel, which posts deltas
// here from workbench/ui/live_channel.js; the HTML export and the PNG snapshot, drawn once from
// NOTES_INITIAL). Inside a folium map: LIVE_MAP, LIVE_LAB, LIVE_NAME and NOTES_INITIAL are
// filled in by workbench.maps.NotesLayer. Features carry the properties of
// workbench.maps.annotation_features: p (popup HTML pieces), t (tooltip pieces), s (Leaflet
// style), hidden (a moderated note, shown to moderators only). User text in p and t is already
// escaped on the server.
(function (map, lab, layerName, initial) {
    "use strict";
    // Areas in a pane below lines and points, both above the context layers (overlayPane,
    // z-index 400): a note covering the whole site never hides the notes inside it.
    if (!map.getPane("wbNoteAreas")) {
        map.createPane("wbNoteAreas").style.zIndex = 410;
        map.createPane("wbNoteMarks").style.zIndex = 420;
    }
    var group = L.featureGroup().addTo(map);
    var items = {};      // id -> {feature, layer}
    var selected = null;

    function join(x) { return Array.isArray(x) ? x.join("") : (x || ""); }

    function style(feature) {
        var s = Object.assign({}, feature.properties.s || {});
        var point = feature.geometry && feature.geometry.type === "Point";
        var scale = (s.weight || 2) / (point ? 2 : 3);
        if (feature.id === selected) {  // as workbench.maps._annotation_style(highlighted=True)
            s = {color: "#000000", weight: 5 * scale, opacity: 1, fillColor: s.fillColor,
                 fillOpacity: point ? 0.9 : 0.5, radius: point ? 13 * scale : undefined};
        }
        if (feature.properties.hidden) {
            s.dashArray = "4 4";
            s.fillOpacity = (s.fillOpacity || 0.3) * 0.4;
        }
        return s;
    }

    function pane(feature) {
        var kind = feature.geometry ? feature.geometry.type : "";
        return kind === "Polygon" || kind === "MultiPolygon" ? "wbNoteAreas" : "wbNoteMarks";
    }

    function draw(feature) {
        var where = pane(feature);
        var layer = L.geoJSON(feature, {
            pane: where,
            style: function () { return style(feature); },
            pointToLayer: function (f, latlng) {
                return L.circleMarker(latlng, Object.assign({pane: where}, style(feature)));
            }
        });
        layer.bindPopup(join(feature.properties.p), {maxWidth: 340});
        if (feature.properties.t) {
            layer.bindTooltip(join(feature.properties.t), {sticky: true});
        }
        return layer;
    }

    function put(feature) {
        drop(feature.id);
        var layer = draw(feature);
        items[feature.id] = {feature: feature, layer: layer};
        group.addLayer(layer);
    }

    function drop(id) {
        var item = items[id];
        if (item) {
            group.removeLayer(item.layer);
            delete items[id];
        }
    }

    function restyle(id) {
        var item = items[id];
        if (item) {
            item.layer.setStyle(style(item.feature));
            if (id === selected) { item.layer.bringToFront(); }
        }
    }

    function select(id, zoom) {
        var before = selected;
        selected = id || null;
        restyle(before);
        restyle(selected);
        var item = items[selected];
        if (item && zoom) {
            var bounds = item.layer.getBounds();
            if (bounds.isValid()) {
                if (bounds.getNorthEast().equals(bounds.getSouthWest())) {
                    map.setView(bounds.getCenter(), Math.max(map.getZoom(), 17));
                } else {
                    map.fitBounds(bounds, {padding: [40, 40], maxZoom: 18});
                }
            }
        }
    }

    function apply(message) {
        if (message.reset) {
            group.clearLayers();
            items = {};
        }
        (message.features || []).forEach(put);
        (message.removed || []).forEach(drop);
        document.documentElement.setAttribute("data-wb-revision", String(message.revision));
        document.documentElement.setAttribute("data-wb-notes", String(Object.keys(items).length));
    }

    if (initial) {
        apply({reset: true, features: initial, revision: 0});
    }
    window.addEventListener("message", function (event) {
        if (event.origin !== window.location.origin) { return; }
        var m = event.data;
        if (!m || m.wbLab !== lab) { return; }
        if (m.type === "delta") { apply(m); if (m.select !== undefined) { select(m.select, false); } }
        else if (m.type === "select") { select(m.id, m.zoom); }
        else if (m.type === "clear") {
            if (window.drawnItems && typeof window.drawnItems.clearLayers === "function") {
                window.drawnItems.clearLayers();
            }
        }
        else if (m.type === "view" && m.bounds && m.bounds.length === 4) {
            var b = m.bounds;
            map.fitBounds([[b[1], b[0]], [b[3], b[2]]]);
        }
    });
    window.wbLiveNotes = function () { return Object.keys(items); };
    try {
        window.parent.postMessage({wbReady: lab}, window.location.origin);
    } catch (e) { /* a map outside the app (an exported page) */ }
})(LIVE_MAP, LIVE_LAB, LIVE_NAME, NOTES_INITIAL);
