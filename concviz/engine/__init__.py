"""The engine: runs a model in a child process and observes it.

Runner side (standard library only, runs under any CPython >= 3.11):
``protocol``, ``recorder``, ``worker``, ``job``, ``spec``, ``calibrate``,
``runner``. Observer side: ``session`` (starts and reads the runner),
``sampler`` (psutil, /proc), ``aggregate`` (plain Python run model),
``trace`` (Chrome trace export), ``httpd`` (the local aiohttp server).
Importing this package imports none of them.
"""
