"""embedcli explore: which words a map holds, where they go, their neighbours (those of
``embedcli neighbors``), a page that is one self-contained file with the same bytes on
every run, and the errors. What the page does in a browser: test_explore_browser.py."""

from __future__ import annotations

import html.parser
import json
import re
from pathlib import Path

import numpy as np
import pytest

from embedcli.engine.ranking import rank_query
from embedcli.engine.words import Resolver
from embedcli.errors import ExitStatus, QueryError, UnknownWordError, UsageError
from embedcli.explore import MAX_MAP, axis_direction, build, choose, most_frequent, nearest
from embedcli.expr import Group, parse
from tests.conftest import run, write_small_model

pytest.importorskip("plotly")


def _neighbours(model, word, top=10):
    resolver = Resolver(model)
    return rank_query(model, parse(word, resolver.is_word), resolver, top=top,
                      label="cosine").results


# --------------------------------------------------------------------------- the words


def test_the_words_come_in_order_each_with_why_it_is_there(bundled):
    resolver = Resolver(bundled)
    chosen, fours = choose(bundled, resolver, ["frog", "King"], neighbors=3, frequent=50,
                           listed=[(1, "banana"), (2, "cherry plum")],
                           groups=[Group("tools", ("hammer", "saw"))],
                           analogies=["man:king::woman:?"])
    words, roles = chosen.words, chosen.roles
    assert words[:2] == ["frog", "king"]  # King -> king, as every command resolves it
    assert words[2:5] == ["man", "woman", "queen"]  # king is there already; ? -> queen
    assert fours == [("man:king::woman:?", (2, 1, 3, 4))]
    assert words[5:8] == ["banana", "cherry", "plum"]  # a line of several words is split
    assert words[8:10] == ["hammer", "saw"] and chosen.group_of[8:10] == [0, 0]
    near = [h.word for w in ("frog", "king") for h in _neighbours(bundled, w, 3)]
    assert [w for w in words if roles[words.index(w)] == "neighbor"] == \
        [w for w in dict.fromkeys(near) if w not in words[:10]]
    frequent = [w for w, r in zip(words, roles, strict=True) if r == "frequent"]
    expected = [w for w in bundled.words(200) if any(c.isalnum() for c in w)][:50]
    assert frequent == [w for w in expected if w not in words[:len(words) - len(frequent)]]
    assert "," not in words and "the" in words  # punctuation is no context


def test_a_words_file_line_that_is_one_word_stays_whole(tmp_path):
    words = ["new york", "new", "york", "cat"]
    path = write_small_model(tmp_path / "m.txt", words, np.eye(4, 3) + 0.1)
    from embedcli.models import load

    model = load(str(path))
    chosen, _ = choose(model, Resolver(model), frequent=0,
                       listed=[(1, "new york"), (2, "cat york")])
    assert chosen.words == ["new york", "cat", "york"]


def test_an_unknown_word_fails_as_in_neighbors(bundled):
    resolver = Resolver(bundled)
    with pytest.raises(UnknownWordError) as caught:
        choose(bundled, resolver, ["kign"])
    with pytest.raises(UnknownWordError) as same:
        _neighbours(bundled, "kign")
    assert str(caught.value) == str(same.value)
    with pytest.raises(QueryError, match=r"'kign' is not in the vocabulary .*\(words.txt, "
                                         r"line 7\)$"):
        choose(bundled, resolver, listed=[(7, "kign")], listed_from="words.txt")


def test_the_most_frequent_words_skip_punctuation(bundled):
    found = most_frequent(bundled, 300)
    assert len(found) == 300
    assert all(bundled.word(row) == w and any(c.isalnum() for c in w) for row, w in found)
    assert [row for row, _ in found] == sorted(row for row, _ in found)


def test_the_neighbours_are_those_of_embedcli_neighbors(bundled):
    words = ["frog", "king", "the", "e-mail", "(", "1990"]  # '(' cannot be asked for by name
    found = nearest(bundled, words, 10, Resolver(bundled))
    resolver = Resolver(bundled)
    for word, hits in zip(words, found, strict=True):
        if word == "(":
            assert len(hits) == 10
            continue
        assert hits == _neighbours(bundled, word), word  # the same words and scores
    assert resolver  # (the lookups need no suggestions)


def test_the_neighbours_listed_by_the_page_match_the_command(runner, tmp_path):
    out = tmp_path / "map.html"
    result = run(runner, "explore", "frog", "--frequent", "20", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    data = _data(out)
    k = data["words"].index("frog")
    tsv = run(runner, "neighbors", "frog", "--format", "tsv").stdout.splitlines()[1:]
    rows = [line.split("\t") for line in tsv if line.endswith("false")]
    assert [data["words"][r] for r in data["neighbours"][k]] == [r[1] for r in rows]
    assert [f"{c:.4f}" for c in data["cosines"][k]] == [f"{float(r[2]):.4f}" for r in rows]


# --------------------------------------------------------------------------- directions


def test_a_coordinate_is_the_cosine_with_the_unit_difference_of_the_unit_ends(bundled):
    resolver = Resolver(bundled)
    axis, unit = axis_direction(bundled, "man -> woman", resolver)
    assert (axis.start, axis.end, axis.words) == ("man", "woman", ("man", "woman"))
    vectors = {w: np.asarray(bundled.vectors[bundled.index(w)], np.float64)
               for w in ("man", "woman", "nurse", "engineer")}
    vectors = {w: v / np.linalg.norm(v) for w, v in vectors.items()}
    towards = vectors["woman"] - vectors["man"]
    towards /= np.linalg.norm(towards)
    np.testing.assert_allclose(unit, towards, atol=1e-6)
    m = build(bundled, resolver, ["nurse", "engineer"], neighbors=0, frequent=0,
              axes=["man -> woman", "small -> big"])
    for word in ("nurse", "engineer"):
        assert m.coords[m.words.index(word), 0] == pytest.approx(vectors[word] @ towards,
                                                                 abs=1e-6)
    assert m.coords[m.words.index("nurse"), 0] > m.coords[m.words.index("engineer"), 0]
    axis, _ = axis_direction(bundled, "king - man -> queen", resolver)
    assert (axis.start, axis.words) == ("king - man", ("queen",))
    with pytest.raises(QueryError, match="same point"):
        axis_direction(bundled, "man -> man", resolver)


def test_a_map_on_two_directions(bundled):
    m = build(bundled, Resolver(bundled), ["nurse", "engineer"], neighbors=0, frequent=30,
              axes=["man -> woman", "small -> big"])
    assert m.method == "axes" and m.explained is None
    assert [(x.start, x.end) for x in m.axes] == [("man", "woman"), ("small", "big")]
    assert {"man", "woman", "small", "big"} <= set(m.words)  # the ends are on the map
    _, unit = axis_direction(bundled, "small -> big", Resolver(bundled))
    k = m.words.index("nurse")
    row = np.asarray(bundled.vectors[bundled.index("nurse")], np.float64)
    assert m.coords[k, 1] == pytest.approx(row @ unit / np.linalg.norm(row), abs=1e-7)


# --------------------------------------------------------------------------- the map


def test_pca_keeps_a_share_of_the_variance_per_axis(bundled):
    m = build(bundled, Resolver(bundled), ["frog"], frequent=200)
    assert m.coords.shape == (len(m.words), 2) and len(m.explained) == 2
    assert 0 < m.explained[1] <= m.explained[0] < 1
    m3 = build(bundled, Resolver(bundled), ["frog"], frequent=200, dims=3)
    assert m3.coords.shape == (len(m.words), 3)
    assert m3.explained[:2] == pytest.approx(m.explained) and m3.explained[2] <= m.explained[1]
    np.testing.assert_allclose(m3.coords[:, :2], m.coords, atol=1e-9)


def test_an_analogy_keeps_the_cosine_of_its_two_offsets(bundled):
    m = build(bundled, Resolver(bundled), frequent=10, analogies=["man:king::woman:queen"])
    (o,) = m.analogies
    unit = {w: np.asarray(bundled.vectors[bundled.index(w)], np.float64)
            for w in ("man", "king", "woman", "queen")}
    first, second = unit["king"] - unit["man"], unit["queen"] - unit["woman"]
    assert o.cosine == pytest.approx(first @ second / np.linalg.norm(first) /
                                     np.linalg.norm(second), abs=1e-12)
    assert [m.words[i] for i in (o.a, o.b, o.c, o.d)] == ["man", "king", "woman", "queen"]


@pytest.mark.parametrize("method", ["tsne", "umap"])
def test_tsne_and_umap_are_repeatable(bundled, method):
    pytest.importorskip({"tsne": "sklearn", "umap": "umap"}[method])
    maps = [build(bundled, Resolver(bundled), ["frog"], frequent=60, method=method, seed=3)
            for _ in range(2)]
    np.testing.assert_array_equal(maps[0].coords, maps[1].coords)


def test_the_size_of_a_map_is_bounded(bundled):
    with pytest.raises(UsageError, match=f"at most {MAX_MAP:,}"):
        build(bundled, Resolver(bundled), frequent=MAX_MAP + 1)
    with pytest.raises(UsageError, match="at most 100"):
        build(bundled, Resolver(bundled), top=101)


# --------------------------------------------------------------------------- the page


class _Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _data(path: Path) -> dict:
    text = path.read_text("utf-8")
    found = re.search(r'<script type="application/json" id="embedcli-data">(.*?)</script>',
                      text, re.S)
    assert found
    return json.loads(found.group(1))


@pytest.fixture(scope="module")
def lesson(tmp_path_factory, bundled, session_cache):
    """A page with words, groups and an analogy, written twice by the real command."""
    from typer.testing import CliRunner

    from embedcli.cli.app import app

    folder = tmp_path_factory.mktemp("explore")
    args = ["explore", "king", "queen", "frog", "--group", "fruit: apple banana cherry",
            "--analogy", "man:king::woman:queen", "--frequent", "300"]
    results = []
    with pytest.MonkeyPatch.context() as mp:  # (the autouse isolation is per test)
        mp.setenv("EMBEDCLI_CACHE_DIR", str(session_cache))
        mp.setenv("EMBEDCLI_CONFIG_DIR", str(folder / "config"))
        for name in ("a.html", "b.html"):
            result = CliRunner().invoke(app, [*args, "--out", str(folder / name)])
            assert result.exit_code == 0, result.stderr
            results.append(result)
    return folder, results


def test_the_same_command_writes_the_same_bytes(lesson):
    folder, _ = lesson
    assert (folder / "a.html").read_bytes() == (folder / "b.html").read_bytes()


def test_the_page_is_one_file_that_fetches_nothing(lesson):
    folder, results = lesson
    text = (folder / "a.html").read_text("utf-8")
    parser = _Tags()
    parser.feed(text)
    for tag, attrs in parser.tags:
        assert "src" not in attrs, (tag, attrs)  # every script inline, no image
        assert tag != "link" or attrs.get("href", "").startswith("data:"), attrs
        assert tag not in ("iframe", "img", "object", "embed"), tag
    assert sum(1 for tag, _ in parser.tags if tag == "script") == 3
    style = re.search(r"<style>(.*?)</style>", text, re.S).group(1)
    assert "url(" not in style and "@import" not in style and "@font-face" not in style
    assert "plotly.js v" in text  # the library itself, inlined
    size = (folder / "a.html").stat().st_size
    line = results[0].stderr.strip().splitlines()[-1]
    assert re.fullmatch(r"embedcli: wrote \S+a\.html \(\d[\d,]* words, PCA, keeping \d+% of "
                        r"their variance; \d+\.\d MB\)", line), line
    assert f"{size / 1e6:.1f} MB" in line


def test_the_readmes_example_writes_what_the_readme_says(runner, tmp_path):
    import shlex

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
    section = readme.split("### `embedcli explore", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    args = shlex.split(block)
    assert args[:2] == ["embedcli", "explore"] and args[-2] == "--out"
    said = re.search(r"`(embedcli: wrote lesson\.html \(.*?); ([\d.]+) MB\)`",
                     section.replace("\n", " ")).group(1)
    out = tmp_path / "lesson.html"
    result = run(runner, *args[1:-1], str(out))
    assert result.exit_code == 0, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line == f"{said.replace('lesson.html', str(out))}; " \
                   f"{out.stat().st_size / 1e6:.1f} MB)"


def test_the_figure_is_valid_plotly(bundled):
    import plotly.graph_objects as go

    from embedcli.page import figure

    for dims in (2, 3):
        m = build(bundled, Resolver(bundled), ["frog"], frequent=40, dims=dims,
                  groups=[Group("fruit", ("apple", "banana"))],
                  analogies=["man:king::woman:?"])
        go.Figure(figure(m))  # raises on any property plotly does not know


def test_words_are_text_in_the_page_whatever_they_hold(tmp_path, runner):
    words = ["<script>alert(1)</script>", "&amp;", "</script><b>x", "a\u2028b", "plain",
             '"quoted"', "<!--"]
    rng = np.random.default_rng(0)
    path = write_small_model(tmp_path / "hostile.txt", words, rng.normal(size=(7, 5)))
    out = tmp_path / "hostile.html"
    result = run(runner, "explore", "--model", str(path), "--out", str(out), "--frequent", "7",
                 "-n", "3")
    assert result.exit_code == 0, result.stderr
    text = out.read_text("utf-8")
    body = text.split('id="embedcli-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in body and "\u2028" not in body
    data = json.loads(body)
    assert set(data["words"]) == set(words)
    assert "<script>alert" not in text and "</script><b>" not in text


def test_a_5000_word_map_is_small_enough_to_mail(runner, tmp_path):
    out = tmp_path / "big.html"
    result = run(runner, "explore", "--frequent", "5000", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    size = out.stat().st_size
    assert size < 10_000_000, size
    assert len(_data(out)["coords"]) == 5000


# --------------------------------------------------------------------------- errors


def _one_error(result, status):
    assert result.exit_code == status, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("embedcli: error: "), result.stderr
    return lines[0]


def test_an_unknown_word_is_said_as_neighbors_says_it(runner, tmp_path):
    out = tmp_path / "map.html"
    line = _one_error(run(runner, "explore", "kign", "--out", str(out)), ExitStatus.NO_ANSWER)
    assert line == _one_error(run(runner, "neighbors", "kign"), ExitStatus.NO_ANSWER)
    assert not out.exists()


@pytest.mark.parametrize("where,message", [
    ("missing/map.html", "the folder .*missing does not exist"),
    ("adir.html", "it is a directory"),
    ("map.png", "the file name must end in .html"),
])
def test_an_out_that_cannot_be_written_is_said_before_any_work(runner, tmp_path, where,
                                                               message):
    (tmp_path / "adir.html").mkdir()
    line = _one_error(run(runner, "explore", "cat", "--out", str(tmp_path / where)),
                      ExitStatus.USAGE)
    assert re.search(message, line), line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir.html", "config"] or \
        sorted(p.name for p in tmp_path.iterdir()) == ["adir.html"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(bundled, session_cache,
                                                            tmp_path):
    """A real full disk, as the writer meets it: the child may write no file larger than
    1 MB (RLIMIT_FSIZE), and the page is about 5 MB, so its write fails part-way."""
    import os
    import subprocess
    import sys

    from tests.conftest import files_at_most

    out = tmp_path / "map.html"
    out.write_text("the old page")
    env = {k: v for k, v in os.environ.items() if k != "EMBEDCLI_MODEL"}
    env["EMBEDCLI_CACHE_DIR"] = str(session_cache)
    proc = subprocess.run([sys.executable, "-m", "embedcli", "explore", "cat", "--frequent",
                           "10", "--out", str(out)], env=env, capture_output=True, text=True,
                          timeout=120, preexec_fn=files_at_most(1 << 20))
    assert (proc.returncode, proc.stdout) == (ExitStatus.USAGE, "")
    # the limit is what stopped it: "File too large" is EFBIG, which only the limit raises
    assert proc.stderr == f"embedcli: error: cannot write {out}: File too large\n"
    assert out.read_text() == "the old page"
    assert [p.name for p in tmp_path.iterdir()] == ["map.html"]  # no temporary left


@pytest.mark.parametrize("method,package", [("umap", "umap-learn"), ("tsne", "scikit-learn")])
def test_a_method_whose_library_is_missing_says_so(runner, tmp_path, monkeypatch, method,
                                                   package):
    import importlib.util

    real = importlib.util.find_spec
    if real({"umap": "umap", "tsne": "sklearn"}[method]) is not None:  # installed here
        monkeypatch.setattr(importlib.util, "find_spec",
                            lambda name, *a: None if name in ("umap", "sklearn") else
                            real(name, *a))
    line = _one_error(run(runner, "explore", "cat", "--method", method, "--out",
                          str(tmp_path / "m.html")), ExitStatus.USAGE)
    assert line == (f"embedcli: error: --method {method} needs {package}, which is not "
                    f"installed: pip install {package} (or use the default, --method pca)")


@pytest.mark.parametrize("args,message,status", [
    (["king - man"], "explore takes words, not expressions", 2),
    (["--x-axis", "man -> woman"], "takes --x-axis and --y-axis", 2),
    (["--x-axis", "man -> woman", "--y-axis", "small -> big", "--method", "tsne"],
     "use one or the other", 2),
    (["--x-axis", "man -> man", "--y-axis", "small -> big"], "same point", 1),
    (["--frequent", "10001"], "--frequent takes at most 10,000", 2),
    (["--frequent", "-1"], "--frequent", 2),
    (["--top", "0"], "--top", 2),
    (["--words-file", "/nonexistent/words.txt"], "--words-file /nonexistent/words.txt: cannot "
                                                 "read it", 2),
    (["--analogy", "man:king::woman"], "", 0),  # (fine: the model's answer)
    (["--frequent", "0"], "a map needs at least two words", 2),
])
def test_bad_input_gets_one_line(runner, tmp_path, args, message, status):
    if status == 0:
        result = run(runner, "explore", *args, "--frequent", "5", "--out",
                     str(tmp_path / "m.html"))
        assert result.exit_code == 0, result.stderr
        return
    line = _one_error(run(runner, "explore", *args, "--out", str(tmp_path / "m.html")), status)
    assert message in line, line
    assert not (tmp_path / "m.html").exists()


@pytest.mark.parametrize("args,lines", [
    (["--analogy", "man:king"], [
        "embedcli: error: a proportion reads 'a : b :: c : ?' (a is to b as c is to ?) (at "
        "column 9)", "  man:king", "          ^"]),
    (["--x-axis", "man woman", "--y-axis", "small -> big"], [
        "embedcli: error: a direction reads 'A -> B' (from A to B: 'man -> woman', 'small -> "
        "big') (at column 10)", "  man woman", "           ^"]),
    (["--group", "fruit apple"], [
        "embedcli: error: a group reads 'NAME: word word ...' ('fruit: apple banana cherry') "
        "(at column 12)", "  fruit apple", "             ^"]),
])
def test_a_malformed_analogy_direction_or_group_gets_its_caret(runner, tmp_path, args, lines):
    result = run(runner, "explore", *args, "--out", str(tmp_path / "m.html"))
    assert result.exit_code == ExitStatus.USAGE
    assert result.stderr.splitlines() == lines
    assert not (tmp_path / "m.html").exists()


def test_a_words_file_that_is_not_utf8(runner, tmp_path):
    bad = tmp_path / "words.txt"
    bad.write_bytes(b"cat\n\xff\n")
    line = _one_error(run(runner, "explore", "--words-file", str(bad), "--out",
                          str(tmp_path / "m.html")), ExitStatus.USAGE)
    assert "not UTF-8" in line


def test_a_3d_map_on_three_directions(runner, tmp_path, bundled):
    m = build(bundled, Resolver(bundled), ["nurse"], neighbors=0, frequent=20, dims=3,
              axes=["man -> woman", "small -> big", "bad -> good"])
    assert m.coords.shape == (len(m.words), 3) and len(m.axes) == 3
    _, unit = axis_direction(bundled, "bad -> good", Resolver(bundled))
    row = np.asarray(bundled.vectors[bundled.index("nurse")], np.float64)
    assert m.coords[m.words.index("nurse"), 2] == pytest.approx(row @ unit, abs=1e-7)
    line = _one_error(run(runner, "explore", "--3d", "--x-axis", "man -> woman", "--y-axis",
                          "small -> big", "--out", str(tmp_path / "m.html")), ExitStatus.USAGE)
    assert "--z-axis with --3d" in line
    result = run(runner, "explore", "--3d", "--x-axis", "man -> woman", "--y-axis",
                 "small -> big", "--z-axis", "bad -> good", "--frequent", "20", "--out",
                 str(tmp_path / "m.html"))
    assert result.exit_code == 0, result.stderr
    assert "on directions in 3-D" in result.stderr
