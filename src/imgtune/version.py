"""The package's version, in a module of its own that imports nothing.

Anything may read it without importing the :mod:`imgtune` facade (the command line's
``--version``, a report's footer); the facade re-exports it as ``imgtune.__version__``.
pyproject.toml reads it from here (``dynamic = ["version"]``): this is its one place.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
