"""``python -m concviz``: the same as the ``concviz`` command."""

import os
import sys

try:
    from concviz.cli import main
except KeyboardInterrupt:  # Ctrl+C while concviz itself was still loading: nothing to clean up
    print("concviz: interrupted", file=sys.stderr, flush=True)
    os._exit(130)

sys.exit(main())
