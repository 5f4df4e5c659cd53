"""A tiny Streamlit app for test_harness.py (not the real app).

One folium map with the Draw plugin and the other folium pieces whose CDN assets the harness
serves offline (MarkerCluster, Icon, Fullscreen, GeoJson, LayerControl, a branca colormap).
"""

import branca.colormap
import folium
import streamlit as st
from folium.plugins import Draw, Fullscreen, MarkerCluster
from streamlit_folium import st_folium

st.title("Browser harness")
m = folium.Map(location=[52.37, 4.89], zoom_start=14)
Draw(export=False).add_to(m)
Fullscreen().add_to(m)
cluster = MarkerCluster(name="markers").add_to(m)
folium.Marker([52.372, 4.880], icon=folium.Icon(color="red", icon="info-sign")).add_to(cluster)
folium.Marker([52.366, 4.880], icon=folium.Icon(prefix="fa", icon="star", angle=30)).add_to(m)
line = {"type": "LineString", "coordinates": [[4.875, 52.362], [4.878, 52.376]]}
folium.GeoJson(line, name="line").add_to(m)
branca.colormap.LinearColormap(["white", "red"], vmin=0, vmax=1, caption="legend").add_to(m)
folium.LayerControl().add_to(m)

result = st_folium(
    m, key="map", height=500, use_container_width=True, returned_objects=["last_active_drawing"]
)
drawing = (result or {}).get("last_active_drawing")
if drawing:
    st.write(f"Drawn geometry type: {drawing['geometry']['type']}")
    st.json(drawing, expanded=False)
else:
    st.write("Nothing drawn yet")
