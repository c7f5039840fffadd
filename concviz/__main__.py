"""``python -m concviz``: the same as the ``concviz`` command."""

import sys

from concviz.cli import main

sys.exit(main())
