"""Where embedcli keeps its files: ``EMBEDCLI_<KIND>_DIR`` if set, else the user's
directory of that kind (platformdirs: ``~/.cache/embedcli``, ``~/.config/embedcli`` and
``~/.local/share/embedcli`` on Linux)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal


def user_dir(kind: Literal["cache", "config", "data"]) -> Path:
    env = os.environ.get(f"EMBEDCLI_{kind.upper()}_DIR")
    if env:
        return Path(env)
    import platformdirs

    find = {"cache": platformdirs.user_cache_dir, "config": platformdirs.user_config_dir,
            "data": platformdirs.user_data_dir}[kind]
    return Path(find("embedcli", appauthor=False))
