"""Batch queries and the smaller query commands (issue: batch).

Commands register themselves on ``embedcli.cli.app``; shared options and plumbing
come from ``embedcli.cli``.
"""
