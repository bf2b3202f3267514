"""embedcli plot: what a picture shows (computed before drawing), valid files that are the
same bytes on every run, and errors."""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import numpy as np
import pytest

from embedcli.classroom import parse_analogy, pca, picture
from embedcli.engine.words import Resolver
from embedcli.errors import ExitStatus, ExpressionError, UsageError
from tests.conftest import run

pytest.importorskip("matplotlib")


# --------------------------------------------------------------------------- the maths


def test_pca_keeps_the_distances_of_points_on_a_plane():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(7, 2)))[0].T  # a plane through 7-D space
    flat = rng.normal(size=(9, 2)) * [3.0, 1.0]
    rows = flat @ basis + rng.normal(size=7)
    proj = pca(rows)
    def distances(x):
        return np.linalg.norm(x[:, None] - x[None], axis=-1)
    np.testing.assert_allclose(distances(proj.coords), distances(rows), atol=1e-9)
    assert sum(proj.explained) == pytest.approx(1.0)
    assert proj.explained[0] > proj.explained[1]
    np.testing.assert_allclose(proj.place(rows[3]), proj.coords[3], atol=1e-12)


def test_pca_axes_have_a_fixed_sign():
    rows = np.array([[0.0, 0, 0], [1, 0.1, 0], [2, 0.3, 0.1], [3, 0.2, 0.4]])
    a, b = pca(rows), pca(-rows)  # the same cloud, mirrored
    for proj in (a, b):
        for axis in proj.components:
            assert axis[np.argmax(np.abs(axis))] > 0
    np.testing.assert_allclose(np.abs(a.coords), np.abs(b.coords), atol=1e-12)


@pytest.mark.parametrize("text,expected", [
    ("man:king::woman:queen", ("man", "king", "woman", "queen")),
    ("man : king :: woman : queen", ("man", "king", "woman", "queen")),
    ("man:king::woman:?", ("man", "king", "woman", None)),
    ("man:king::woman", ("man", "king", "woman", None)),
])
def test_parse_analogy(text, expected):
    assert parse_analogy(text) == expected


@pytest.mark.parametrize("text", ["man:king", "man king woman queen", "man::king:woman:queen",
                                  "man:king::woman:queen::x", ":king::woman:queen"])
def test_parse_analogy_rejects(text):
    with pytest.raises(ExpressionError):
        parse_analogy(text)


def test_the_analogy_picture_of_its_words_alone_is_a_parallelogram(bundled):
    resolver = Resolver(bundled)
    pic = picture(bundled, resolver, ["boy", "girl"], analogy="man:king::woman:?", context=0)
    assert pic.words == ["man", "king", "woman", "queen", "boy", "girl"]  # ? -> the answer
    assert [(a.start, a.end, a.kind) for a in pic.arrows] == [
        (0, 1, "offset"), (2, 3, "offset"), (0, 2, "side"), (1, 3, "side")]
    xy = pic.projection.coords
    # the two offsets, as drawn, point the same way and are about as long
    one, two = xy[1] - xy[0], xy[3] - xy[2]
    assert one @ two / np.linalg.norm(one) / np.linalg.norm(two) > 0.9
    assert 0.7 < np.linalg.norm(two) / np.linalg.norm(one) < 1.3
    # the projection is PCA of the unit vectors of these words
    rows = np.asarray(bundled.vectors[[bundled.index(w) for w in pic.words]], dtype=np.float64)
    np.testing.assert_allclose(xy, pca(rows).coords, atol=1e-12)
    # the cross is the arithmetic's own point, king - man + woman, projected the same way
    ((label, point),) = pic.marks
    target = rows[1] - rows[0] + rows[2]
    assert label == "king - man + woman"
    np.testing.assert_allclose(point, pic.projection.place(target / np.linalg.norm(target)))
    assert pic.title.startswith("man is to king as woman is to queen")


def test_the_neighbours_picture_is_gensims_neighbours(bundled, bundled_kv):
    pic = picture(bundled, Resolver(bundled), [], neighbors="frog", top=8)
    assert pic.words == ["frog", *(w for w, _ in bundled_kv.most_similar("frog", topn=8))]
    assert pic.centre == 0 and pic.arrows == []


def test_the_heat_map_is_the_similarity_matrix(bundled, bundled_kv):
    words = ["cat", "dog", "car", "truck"]
    pic = picture(bundled, Resolver(bundled), words, heatmap=True)
    assert pic.kind == "heatmap" and pic.words == words
    expected = [[bundled_kv.similarity(a, b) for b in words] for a in words]
    np.testing.assert_allclose(pic.matrix, expected, atol=1e-5)


def test_tsne_without_scikit_learn_says_how_to_get_it(bundled, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # as if it were not installed
    monkeypatch.setitem(sys.modules, "sklearn.manifold", None)
    with pytest.raises(UsageError, match="pip install scikit-learn"):
        picture(bundled, Resolver(bundled), ["cat", "dog", "car"], method="tsne")


# --------------------------------------------------------------------------- the files


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_a_picture_is_a_valid_file_and_the_same_bytes_every_time(runner, tmp_path, fmt):
    args = ["plot", "--analogy", "man:king::woman:queen", "boy", "girl", "prince",
            "princess"]
    one, two = tmp_path / f"one.{fmt}", tmp_path / f"two.{fmt}"
    first = run(runner, *args, "--out", str(one))
    second = run(runner, *args, "-o", str(two))
    assert first.exit_code == second.exit_code == 0, first.stderr
    assert first.stdout == ""
    assert first.stderr.startswith(f"embedcli: wrote {one} (8 words, PCA; fitted with 1,000 "
                                   "frequent words, its axes keep ")
    data = one.read_bytes()
    assert data == two.read_bytes()
    if fmt == "png":
        assert _png_size(data) == (1200, 975)  # 8 x 6.5 inches at 150 dpi
    elif fmt == "svg":
        text = data.decode("utf-8")
        assert text.startswith("<?xml") and "<svg" in text and text.rstrip().endswith("</svg>")
        for word in ("man", "king", "woman", "queen", "princess", "king - man + woman"):
            assert f">{word}</text>" in text  # labels stay text
        assert "<dc:date>" not in text
    else:
        assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
        assert b"CreationDate" not in data


@pytest.mark.parametrize("args", [
    ["--neighbors", "frog", "-n", "6"],
    ["cat", "dog", "car", "truck", "--heatmap"],
    ["--analogy", "france:paris::italy:?", "--title", "capitals"],
])
def test_other_pictures(runner, tmp_path, args):
    out = tmp_path / "p.png"
    result = run(runner, "plot", *args, "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert _png_size(out.read_bytes())[0] > 500


def test_tsne_when_scikit_learn_is_there(runner, tmp_path):
    pytest.importorskip("sklearn")
    words = ["cat", "dog", "car", "truck", "king", "queen", "apple", "banana"]
    one, two = tmp_path / "a.png", tmp_path / "b.png"
    assert run(runner, "plot", *words, "--method", "tsne", "-o", str(one)).exit_code == 0
    assert run(runner, "plot", *words, "--method", "tsne", "-o", str(two)).exit_code == 0
    assert one.read_bytes() == two.read_bytes()


@pytest.mark.parametrize("args,status,message", [
    (["cat", "dog", "-o", "{tmp}/x.gif"], ExitStatus.USAGE, "must end in .png, .svg or .pdf"),
    (["cat", "dog", "-o", "{tmp}/missing/x.png"], ExitStatus.USAGE, "does not exist"),
    (["cat", "-o", "{tmp}/x.png"], ExitStatus.USAGE, "at least two words"),
    (["--analogy", "man:king", "-o", "{tmp}/x.png"], ExitStatus.USAGE,
         "a proportion reads 'a : b :: c : ?'"),
    (["cat", "dog"], ExitStatus.USAGE, "--out"),
])
def test_plot_errors(runner, tmp_path, args, status, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = run(runner, "plot", *args)
    assert result.exit_code == status, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written, not even half a file


def test_only_plot_imports_matplotlib(bundled, session_cache, tmp_path):
    from tests.test_process import PROBE, _env

    for args in (["explain", "king - man + woman"], ["quiz", "--seed", "1"]):
        probe = subprocess.run([sys.executable, "-c", PROBE, *args], env=_env(session_cache),
                               capture_output=True, text=True, timeout=120, input="")
        report = json.loads(probe.stderr.splitlines()[-1])
        assert report == {"code": 0, "heavy": []}, (args, probe.stderr)
