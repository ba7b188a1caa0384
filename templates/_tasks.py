"""The operations of {{ manifest }} as Prefect tasks, each defined once.

The flows of this package import the tasks they submit. `task` is Prefect's
`task`, whose submits the runtime records by operation (`_runtime.py`).
"""

{{ imports }}

{{ tasks }}
