"""Run a flow of this package and print its result: `python -m {{ package }} --help`."""

import sys

from ._runtime import main

if __name__ == "__main__":
    sys.exit(main())
