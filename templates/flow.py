"""{{ docstring }}"""

{{ imports }}{{ helpers }}
{% for t in body.tasks() %}
{{ t.var }} = task(
{%- if t.in_process %}
    _in_process({{ t.callable }}{{ t.rest }}),
{%- else %}
    {{ t.callable }}{{ t.rest }},
{%- endif %}
    name={{ t.name }},
{%- for arg in t.args %}
    {{ arg }},
{%- endfor %}
)
{%- endfor %}


@flow(
{%- for arg in flow_args %}
    {{ arg }},
{%- endfor %}
)
{% if params.is_empty() -%}
def {{ function }}() -> {{ returns }}:
{%- else -%}
def {{ function }}(
{%- for param in params %}
    {{ param }}
{%- endfor %}
) -> {{ returns }}:
{%- endif %}
    """{{ flow_docstring }}"""
{%- for stage in body.stages() %}
    # Stage {{ loop.index }}
{%- for submit in stage %}
{%- if submit.args.is_empty() %}
    {{ submit.var }} = {{ submit.target }}.submit()
{%- else %}
    {{ submit.var }} = {{ submit.target }}.submit(
{%- for arg in submit.args %}
        {{ arg }},
{%- endfor %}
    )
{%- endif %}
{%- endfor %}
{%- endfor %}
    return {{ outcome }}(
        {
{%- for (name, var) in body.futures() %}
            {{ name }}: {{ var }},
{%- endfor %}
        },
        sinks=[
{%- for sink in sinks %}
            {{ sink }},
{%- endfor %}
        ],
    )


# The final state of every operation of the last run, by name (the runner reports it).
LAST_RUN: dict[str, str] = {}


class OperationFailed(RuntimeError):
    """An operation of the flow failed; `operation` is its name."""

    def __init__(self, operation: str, error: BaseException) -> None:
        super().__init__(f"operation `{operation}` failed: {error}")
        self.operation = operation


def {{ outcome }}(futures: dict[str, PrefectFuture[Any]], sinks: list[str]) -> Any:
    """Wait for every operation; raise the first failure, else return the sinks' values."""
    wait(list(futures.values()))
    LAST_RUN.clear()
    LAST_RUN.update({name: future.state.type.value for name, future in futures.items()})
    for name, future in futures.items():
        if future.state.is_failed() or future.state.is_crashed():
            try:
                future.result()
            except BaseException as error:
                raise OperationFailed(name, error) from error
    if len(sinks) == 1:
        return futures[sinks[0]].result()
    return {name: futures[name].result() for name in sinks}
