"""`embedcli models`: registering, listing and removing models.

Commands register themselves on ``embedcli.cli.app``; shared options and plumbing
come from ``embedcli.cli``.
"""
