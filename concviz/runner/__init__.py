"""The runner side: what runs in the child process, under any CPython >= 3.11.

Standard library only (import-linter checks it): it runs on whatever interpreter
the user points at, free-threaded builds included, without concviz installed
there. ``python -m concviz.runner`` is the runner; ``worker`` and ``recorder``
stream a process's events; ``job`` is what a model sees; ``spec`` says what to
run; ``protocol`` is the wire format; ``calibrate`` and ``memory`` measure.
Importing this package imports none of them.
"""
