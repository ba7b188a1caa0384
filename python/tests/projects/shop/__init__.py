"""A small order pipeline: ingest orders and prices, split, price, report."""
