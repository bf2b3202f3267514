"""Shell completion (``embedcli --install-completion``): vocabulary words for a query, model
names for ``--model``.

Completion runs a fresh process at every Tab, so a word is completed from the cached
vocabulary (``vocab.txt`` of the model's cache entry) read as bytes: no numpy, no model
loaded, a few milliseconds. A model not converted yet completes nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from embedcli.dirs import user_dir

SHOWN = 200  # words offered at most: the most frequent with the typed prefix


def words(ctx: Any, incomplete: str) -> list[str]:
    """The most frequent words of the model that start with ``incomplete``."""
    try:
        vocab = _vocabulary(_model_name(ctx))
        if vocab is None:
            return []
        return _with_prefix(vocab.read_bytes(), incomplete)
    except (OSError, ValueError):  # completion never fails loudly
        return []


def models(ctx: Any, incomplete: str) -> list[str]:
    """Registered names and the bundled model's names that start with ``incomplete``.
    Nothing for a path: the shell then completes it as a file name (``complete -o
    default``, ``compdef``'s and fish's own fallbacks)."""
    if "/" in incomplete or incomplete.startswith(("~", ".")):
        return []
    names = ["glove-6b-50d", "glove-wiki-gigaword-50", *_registered()]
    return [n for n in dict.fromkeys(names) if n.startswith(incomplete)]


def _with_prefix(vocab: bytes, prefix: str) -> list[str]:
    """Words of ``vocab`` (``b"\\nw0\\nw1\\n..."``, in frequency order) that start with
    ``prefix``, the first SHOWN of them."""
    key = b"\n" + prefix.encode("utf-8", "surrogateescape")
    found: list[str] = []
    at = vocab.find(key)
    while at >= 0 and len(found) < SHOWN:
        end = vocab.find(b"\n", at + 1)
        if end < 0:
            break
        found.append(vocab[at + 1:end].decode("utf-8", "replace"))
        at = vocab.find(key, end)
    return found


def _model_name(ctx: Any) -> str:
    spec = (getattr(ctx, "params", None) or {}).get("model_spec") or \
        os.environ.get("EMBEDCLI_MODEL")
    if spec:
        return str(spec)
    default = _registry().get("default")
    return default if isinstance(default, str) else "glove-6b-50d"


def _registry() -> dict[str, Any]:
    try:
        data = json.loads((user_dir("config") / "models.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _registered() -> list[str]:
    found = _registry().get("models")
    return sorted(found) if isinstance(found, dict) else []


def _vocabulary(name: str) -> Path | None:
    """``vocab.txt`` of the newest cache entry converted for ``name``."""
    best: tuple[float, Path] | None = None
    for entry in (user_dir("cache") / "models").glob("[!.]*"):
        try:
            meta_path = entry / "meta.json"
            meta = json.loads(meta_path.read_text("utf-8"))
            vocab = entry / "vocab.txt"
            if meta.get("name") != name or not vocab.is_file():
                continue
            when = meta_path.stat().st_mtime
        except (OSError, ValueError, AttributeError):
            continue
        if best is None or when > best[0]:
            best = (when, vocab)
    return best[1] if best else None
