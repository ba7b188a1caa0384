"""{{ docstring }}"""

{{ imports }}


@flow(
{%- for arg in flow_args %}
    {{ arg }},
{%- endfor %}
)
{{ signature }}
    """{{ flow_docstring }}"""
{{ body }}
