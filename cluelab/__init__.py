"""ClueLab's entry points: the `cluelab` command line, bootstrap (init, demo) and console helpers.

The top floor: it may import everything below; nothing imports it.
"""

__version__ = "0.1.0"
