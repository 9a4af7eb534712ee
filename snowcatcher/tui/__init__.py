"""The Textual terminal UI: a live, virtualized event list and a detail pane (the only Textual importer)."""
