"""`embedcli evaluate`: benchmark evaluation of a model.

Commands register themselves on ``embedcli.cli.app``; shared options and plumbing
come from ``embedcli.cli``.
"""
