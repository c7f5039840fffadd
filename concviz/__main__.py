"""``python -m concviz``: the same as the ``concviz`` command."""

from concviz.entry import main

main()
