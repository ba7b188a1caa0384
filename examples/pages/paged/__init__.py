"""LinkedIn's result pages read one fetch per page (the `map` example)."""
