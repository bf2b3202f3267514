"""The command line: ``app`` (the group and its areas), ``options`` (shared option types),
``io`` (stdout, stderr, loading), and one module per command area."""
