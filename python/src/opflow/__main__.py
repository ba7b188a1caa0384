"""`python -m opflow scan MODULE... [-o FILE]`."""

import sys

from opflow.cli import main

if __name__ == "__main__":
    sys.exit(main())
