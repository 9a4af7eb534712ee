"""The store: the SQLite capture, its tables, entity sets, filters, signals and pages."""
