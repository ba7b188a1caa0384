"""The operations of {{ manifest }} as Prefect tasks, each defined once.

The flows of this package import the tasks they submit. `task` is Prefect's
`task`, whose submits the runtime records by operation, and whose results it
keeps in `RESULTS`, so part of a flow can run alone and a failed run resume
(`_runtime.py`).
"""

{{ imports }}

RESULTS = {{ results }}
task = RESULTS.task

{{ tasks }}