"""Put the manifest's `python_path` on `sys.path`, so the operations' modules import.

`__init__.py` imports this module first, before any flow.
"""

import sys
from pathlib import Path

# The manifest's `python_path`, relative to this folder.
PYTHON_PATH = [
{%- for path in python_path %}
    {{ path }},
{%- endfor %}
]

_here = Path(__file__).resolve().parent
for _entry in reversed(PYTHON_PATH):
    _path = str((_here / _entry).resolve())
    if _path not in sys.path:
        sys.path.insert(0, _path)
