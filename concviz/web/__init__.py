"""Stage mode: the dashboard in a browser (``concviz serve``), safe to present."""
