"""opflow's Python side: mark functions with `@operation` and let
`opflow scan PACKAGE -o operations.toml` write the manifest that the
`opflow` compiler turns into Prefect flows.

```python
from opflow import operation

@operation(name="scraping.stepstone.fetch", retries=2)
async def fetch_stepstone(keywords: str) -> list[Listing]:
    \"\"\"Fetch listings from StepStone whose title matches the keywords.\"\"\"
```

The decorator returns the function unchanged; it only records the settings.
This package never imports Prefect.
"""

from opflow._decorator import From, OperationSpec, get_operation, operation

__all__ = ["From", "OperationSpec", "get_operation", "operation"]
__version__ = "0.1.0"
