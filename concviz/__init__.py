"""concviz: watch Python concurrency happen.

This module stays import-free: the runner imports the package under whatever
interpreter the user points at, and must not pay for (or need) the dashboard.
"""

__version__ = "0.1.0"
