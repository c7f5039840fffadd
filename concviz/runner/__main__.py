"""``python -m concviz.runner``: see :mod:`concviz.runner.run`."""

import sys

from .run import main

if __name__ == "__main__":
    sys.exit(main())
