"""Job-listing scrapers for the opflow example (offline: they read fixtures)."""

from jobs.models import Listing

__all__ = ["Listing"]
