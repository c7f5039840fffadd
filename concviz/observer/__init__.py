"""The observer side: starts the runner, reads its events, samples, aggregates.

It may use psutil, aiohttp and NumPy, never the UI (import-linter checks it):
``session`` starts and reads a run, ``sampler`` reads /proc and psutil,
``aggregate`` (with ``bulk``, ``spans``, ``timeline``) is the plain-Python run
model, ``recording`` and ``trace`` write it down, ``httpd`` is the local
aiohttp server, ``interpreters`` finds and probes other CPythons.
Importing this package imports none of them.
"""
