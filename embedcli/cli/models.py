"""``embedcli models``: list, inspect, register, remove, choose and check models.

Registrations live in ``models.json`` in the user's config directory
(``EMBEDCLI_CONFIG_DIR`` overrides it), changed under a lock; converted vectors live in
the cache, which ``models check`` verifies in full.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from embedcli.cli import complete
from embedcli.cli.io import StderrReporter, emit_rows, load_model, os_path, read_options, say
from embedcli.cli.options import AS_GIVEN, FormatOpt, Reading, reads_model
from embedcli.errors import ModelError, UsageError

app = typer.Typer()
models_app = typer.Typer(help="List, inspect, register, remove and check models.",
                         no_args_is_help=True)
app.add_typer(models_app, name="models")


@dataclass(frozen=True)
class ModelRow:
    name: str
    source: str
    words: int | None
    dim: int | None
    dtype: str | None
    cache_bytes: int
    default: bool


def _row(name: str, default: str) -> ModelRow:
    from embedcli.models import cache_size, cached_meta, entry_dir_for, resolve

    try:
        source = resolve(name, download=False)
    except (ModelError, UsageError) as exc:  # a file gone, not downloaded, a broken entry
        return ModelRow(name, f"(unavailable: {exc})", None, None, None, 0,
                        _is_default(name, default))
    meta = cached_meta(source) or {}
    return ModelRow(name, str(source.location), meta.get("count"), meta.get("dim"),
                    meta.get("dtype"), cache_size(entry_dir_for(source)),
                    _is_default(name, default))


def _is_default(name: str, default: str) -> bool:
    """The bundled model's names all stand for the same (default) model."""
    from embedcli.models import BUNDLED_ALIASES

    return name == default or (name in BUNDLED_ALIASES and default in BUNDLED_ALIASES)


@models_app.command("list")
def list_models(format: FormatOpt = None) -> None:
    """List the bundled model and the registered ones, with their sizes.

    Example: embedcli models list --format json
    """
    from embedcli.models import BUNDLED_NAME, Registry, default_model

    registry = Registry.load()
    default = default_model()
    rows = [_row(name, default) for name in [BUNDLED_NAME, *sorted(registry.models)]]
    emit_rows("models", [_as_dict(r) for r in rows], format)


def _as_dict(row: ModelRow) -> dict[str, Any]:
    return {"name": row.name, "default": row.default, "words": row.words, "dim": row.dim,
            "dtype": row.dtype, "cache_bytes": row.cache_bytes, "source": row.source}


@models_app.command("info")
def info(
    name: Annotated[str, typer.Argument(
        help="A model name, file or gensim-data name.", autocompletion=complete.models)],
    format: FormatOpt = None,
) -> None:
    """Show what a model holds: words, dimensions, source, cache, and notes from reading it.

    Converts the model first if it has not been used yet.

    Example: embedcli models info glove-6b-50d
    """
    from embedcli.models import cache_size, default_model, entry_dir_for, resolve

    model = load_model(name)
    source = resolve(name)
    entry = entry_dir_for(source)
    first = [model.word(i) for i in range(min(10, len(model)))]
    details = {
        "name": model.name, "source": str(source.location), "kind": source.kind,
        "words": len(model), "dim": model.dim, "dtype": str(model.vectors.dtype),
        "default": _is_default(name, default_model()),
        "cache": str(entry) if entry.exists() else None,
        "cache_bytes": cache_size(entry), "notes": model.meta.get("notes", []),
        "most_frequent": first,
        # a fastText model's n-gram settings (minn, maxn, bucket), or null
        "subwords": model.subwords.to_json() if model.subwords is not None else None,
    }
    emit_rows("model", [details], format, single=True)


@models_app.command("add")
@reads_model(words=False)
def add(
    name: Annotated[str, typer.Argument(help="The short name to register.")],
    path: Annotated[str, typer.Argument(help="A vector file (or archive.zip:member) or a "
                                             "gensim-data name.")],
    reading: Reading = AS_GIVEN,
) -> None:
    """Register a model under a short name and convert it now (with a progress display).

    Example: embedcli models add glove100 ~/Downloads/glove.6B.zip:glove.6B.100d.txt
    """
    from embedcli.models import register

    # converts first, then registers: a registration that cannot load is never written
    model = register(name, os_path(path), options=read_options(reading),
                     dtype=reading.dtype or "float32", reporter=StderrReporter())
    say("", f"registered {name}: {len(model):,} words x {model.dim} dimensions")


@models_app.command("remove")
def remove(name: Annotated[str, typer.Argument(
        help="A registered name.", autocompletion=complete.models)]) -> None:
    """Forget a registered model and delete its cache (never the source file).

    Example: embedcli models remove glove100
    """
    from embedcli.models import unregister

    removed, kept_for = unregister(name)
    if kept_for:
        say("", f"removed {name}; its cache stays, as {kept_for} reads the same file the same "
                "way; the source file is untouched")
        return
    entries = f"{removed} cache entr{'y' if removed == 1 else 'ies'}"
    say("", f"removed {name} and its cache ({entries}); the source file is untouched")


@models_app.command("default")
def default(name: Annotated[str, typer.Argument(
        help="A registered or bundled name.", autocompletion=complete.models)]) -> None:
    """Choose the model that commands use when --model is not given.

    $EMBEDCLI_MODEL still wins over this. Example: embedcli models default glove100
    """
    from embedcli.models import set_default

    set_default(name)
    say("", f"{name} is now the default model")
    if os.environ.get("EMBEDCLI_MODEL"):
        say("note", "EMBEDCLI_MODEL is set, and it wins over this default")


@models_app.command("check")
@reads_model(words=False)
def check(
    name: Annotated[str, typer.Argument(
        help="A model name, file or gensim-data name.", autocompletion=complete.models)],
    reading: Reading = AS_GIVEN,
) -> None:
    """Verify a model's cache in full: every file against the checksum stored when it was
    converted (queries check only what costs little). Converts nothing.

    Status 0 when the cache is sound; 3, naming the damaged file, when it is not (the
    damaged entry is removed, so the next use converts the model again); 1 when the model
    has not been converted yet. The loading options pick the same cache entry a query
    with them would use.

    Example: embedcli models check glove-6b-50d
    """
    from embedcli.models import check_cache

    options = read_options(reading)
    as_given = options.limit is None and not options.trust and options.unicode_errors == "strict"
    report = check_cache(os_path(name), StderrReporter(), options=None if as_given else options,
                         dtype=reading.dtype)
    say("", f"the cache of {name} is sound: {report.files} files, {report.bytes:,} bytes "
            f"checked ({report.entry})")
