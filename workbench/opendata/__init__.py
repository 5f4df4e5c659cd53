"""Open geodata in: OSM themes (fetch, import, cache), the city's own files, basemaps and WMS.

This package is the only part of the workbench that knows OpenStreetMap tags.
"""
