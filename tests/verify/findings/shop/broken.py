"""A module that fails to import."""

raise RuntimeError("the database is not configured")
