"""embedcli: word-embedding arithmetic at the command line.

The public API is small: :func:`embedcli.models.load` gives a :class:`~embedcli.models.Model`,
and the functions in :mod:`embedcli.engine` answer queries on it.
"""

__version__ = "0.1.0"
