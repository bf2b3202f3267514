"""What the pictures of issue 12 show, read from the matplotlib figure itself (legend
texts, axis labels, artists, label boxes) and checked with numpy over gensim's vectors."""

from __future__ import annotations

import numpy as np
import pytest

from embedcli.classroom import picture
from embedcli.engine.words import Resolver
from tests.conftest import run, run_json

pytest.importorskip("matplotlib")


def _unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def _figure(pic):
    from embedcli.plot import figure

    return figure(pic)


def _legend(fig) -> list[str]:
    (ax, *_) = fig.axes
    legend = ax.get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


def _labels(fig):
    """The word labels drawn, with their boxes in pixels."""
    renderer = fig.canvas.get_renderer()
    from matplotlib.text import Text

    (ax, *_) = fig.axes
    return [(t.get_text(), Text.get_window_extent(t, renderer)) for t in ax.texts
            if (t.get_gid() or "").startswith("label:")]


def _overlap(a, b) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _background(kv, n, leave):
    """The background as the docs define it: the first n all-letter words not drawn."""
    out = []
    for w in kv.index_to_key:
        if w.isalpha() and w not in leave:
            out.append(w)
            if len(out) == n:
                return out
    return out


# --------------------------------------------------------------------------- analogies


@pytest.fixture(scope="module")
def analogy_picture(bundled):
    return picture(bundled, Resolver(bundled), [], analogy="man:king::woman:queen")


def test_the_analogy_pca_is_fitted_on_a_background_and_says_so(analogy_picture, bundled_kv):
    pic = analogy_picture
    words = ["man", "king", "woman", "queen"]
    assert pic.words == words
    rows = [_unit(bundled_kv[w]) for w in words + _background(bundled_kv, 1000, set(words))]
    x = np.asarray(rows)
    s = np.linalg.svd(x - x.mean(axis=0), compute_uv=False)
    kept = float((s[:2] ** 2).sum() / (s ** 2).sum())
    assert sum(pic.projection.explained) == pytest.approx(kept, abs=1e-6)
    assert len(pic.background) == 1000
    assert kept < 0.5  # four words alone would keep nearly all of it
    fig = _figure(pic)
    notes = [t.get_text() for t in fig.texts]
    assert any("1,000 frequent words" in n and f"{kept:.0%}" in n for n in notes), notes
    assert f"{pic.projection.explained[0]:.0%} of the variance" in fig.axes[0].get_xlabel()


def test_the_legend_gives_the_offsets_cosine(analogy_picture, bundled_kv):
    u = {w: _unit(bundled_kv[w]) for w in ("man", "king", "woman", "queen")}
    one, two = u["king"] - u["man"], u["queen"] - u["woman"]
    cosine = float(one @ two / np.linalg.norm(one) / np.linalg.norm(two))
    legend = _legend(_figure(analogy_picture))
    assert any(f"man \u2192 king and woman \u2192 queen: cosine {cosine:.2f}" in t
               for t in legend), legend
    assert any("1,000 frequent words" in t for t in legend)


def test_the_words_alone_flatter_the_analogy(bundled):
    alone = picture(bundled, Resolver(bundled), [], analogy="man:king::woman:queen",
                    context=0)
    assert sum(alone.projection.explained) > 0.8 and alone.background is None


def test_two_analogies_are_both_drawn(bundled):
    pic = picture(bundled, Resolver(bundled), [],
                  analogy=["man:king::woman:queen", "france:paris::italy:rome"])
    assert len(pic.words) == 8 and len(pic.offsets) == 2 and len(pic.marks) == 2
    assert sorted({a.analogy for a in pic.arrows}) == [0, 1]
    fig = _figure(pic)
    legend = _legend(fig)
    assert sum(t.startswith("the offsets") for t in legend) == 2
    arrows = [t for t in fig.axes[0].texts if getattr(t, "arrow_patch", None) is not None
              and not (t.get_gid() or "").startswith("label:")]
    assert len(arrows) == 8  # two offsets and two sides for each
    assert len({a.arrow_patch.get_edgecolor() for a in arrows}) == 3  # two offset inks, grey


def test_two_analogies_on_the_command_line_draw_both(runner, tmp_path):
    out = tmp_path / "two.png"
    result = run(runner, "plot", "--analogy", "man:king::woman:queen", "--analogy",
                 "france:paris::italy:?", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert "(8 words, PCA" in result.stderr


# --------------------------------------------------------------------------- neighbours


def test_close_neighbours_look_close_against_the_background(bundled):
    pic = picture(bundled, Resolver(bundled), [], neighbors="frog", top=12)
    xy = pic.projection.coords
    near = np.linalg.norm(xy[1:] - xy[0], axis=1)
    far = np.linalg.norm(pic.background - xy[0], axis=1)
    assert np.median(near) < 0.6 * np.median(far)
    # fitted on the neighbourhood alone, the neighbours spread over the whole picture
    alone = picture(bundled, Resolver(bundled), [], neighbors="frog", top=12, context=0)
    spread = alone.projection.coords
    assert np.median(np.linalg.norm(spread[1:] - spread[0], axis=1)) > \
        np.median(near) * 2


# --------------------------------------------------------------------------- directions


def test_two_directions_place_the_words_by_their_scores(bundled, bundled_kv):
    words = ["king", "queen", "ant", "whale", "boy", "girl"]
    pic = picture(bundled, Resolver(bundled), words, x_axis="man -> woman",
                  y_axis="small -> big")
    dx = _unit(_unit(bundled_kv["woman"]) - _unit(bundled_kv["man"]))
    dy = _unit(_unit(bundled_kv["big"]) - _unit(bundled_kv["small"]))
    expected = np.array([[_unit(bundled_kv[w]) @ dx, _unit(bundled_kv[w]) @ dy] for w in words])
    np.testing.assert_allclose(pic.projection.coords, expected, atol=1e-6)
    ax = _figure(pic).axes[0]
    assert ax.get_xlabel().startswith("\u2190 man") and ax.get_xlabel().endswith("woman \u2192")
    assert ax.get_ylabel().startswith("\u2190 small") and ax.get_ylabel().endswith("big \u2192")


@pytest.mark.parametrize("args,message", [
    (["--x-axis", "man -> woman", "cat", "dog"], "--x-axis and --y-axis go together"),
    (["--x-axis", "man woman", "--y-axis", "a -> b", "cat", "dog"], "a direction reads"),
    (["--group", "fruit apple", "cat", "dog"], "a group reads 'NAME: word word ...'"),
    (["--variance", "cat"], "--variance draws the model's variance alone"),
    (["--context", "-1", "--analogy", "man:king::woman:?"], "--context takes 0 to"),
    (["--context", "50", "--x-axis", "a -> b", "--y-axis", "c -> d", "cat", "dog"],
     "--context is the background a PCA is fitted on"),
])
def test_bad_picture_options_are_usage_errors(runner, tmp_path, args, message):
    result = run(runner, "plot", *args, "-o", str(tmp_path / "x.png"))
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- groups, labels


def test_groups_have_colours_and_a_legend(bundled):
    pic = picture(bundled, Resolver(bundled), ["car"],
                  groups=["fruit: apple banana cherry", "tools: hammer saw drill"])
    assert pic.groups == [("fruit", [1, 2, 3]), ("tools", [4, 5, 6])]
    fig = _figure(pic)
    assert _legend(fig) == ["fruit", "tools"]
    colours = {}
    for collection in fig.axes[0].collections:
        offsets = collection.get_offsets()
        for x, y in np.asarray(offsets):
            colours[(round(float(x), 9), round(float(y), 9))] = tuple(
                collection.get_facecolor()[0])
    xy = pic.projection.coords
    ink = [colours[(round(float(x), 9), round(float(y), 9))] for x, y in xy]
    assert ink[1] == ink[2] == ink[3] != ink[4] == ink[5] == ink[6] != ink[0]


WEEK = ("january february march april may june july august september october november "
        "december monday tuesday wednesday thursday friday saturday sunday today tomorrow "
        "yesterday week month year weekend morning evening night").split()


def test_labels_of_a_crowded_picture_do_not_collide(bundled):
    fig = _figure(picture(bundled, Resolver(bundled), WEEK))
    labels = _labels(fig)
    assert sorted(t for t, _ in labels) == sorted(WEEK)
    frame = fig.bbox
    for k, (a, box) in enumerate(labels):
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1, a
        for b, other in labels[k + 1:]:
            assert _overlap(box, other) == 0, (a, b)


def test_a_long_title_is_wrapped_not_cut(bundled):
    title = "the first twelve months of the year and the days of the week, " * 3
    fig = _figure(picture(bundled, Resolver(bundled), ["cat", "dog"], title=title))
    ax = fig.axes[0]
    shown = ax.title if ax.title.get_text() else ax._left_title
    box = shown.get_window_extent(fig.canvas.get_renderer())
    assert box.x1 <= fig.bbox.x1
    assert shown.get_text().replace("\n", " ").split() == title.split()


# --------------------------------------------------------------------------- interpolation


def test_the_path_is_labelled_with_the_nearest_word_at_each_step(runner, bundled):
    walk = run_json(runner, "interpolate", "king - man", "queen", "--steps", "5", "-n", "1")
    pic = picture(bundled, Resolver(bundled), [], interpolate=("king - man", "queen"),
                  steps=5)
    assert [p.nearest for p in pic.path] == [s["results"][0]["word"] for s in walk["steps"]]
    assert [p.t for p in pic.path] == [s["t"] for s in walk["steps"]]
    fig = _figure(pic)
    (line,) = [ln for ln in fig.axes[0].lines if len(ln.get_xdata()) == 5]
    np.testing.assert_allclose(np.c_[line.get_xdata(), line.get_ydata()],
                               [p.xy for p in pic.path])
    assert any("nearest word at each step" in t for t in _legend(fig))


def test_interpolate_out_draws_the_path(runner, tmp_path):
    out = tmp_path / "path.png"
    result = run(runner, "interpolate", "cat", "dog", "--steps", "4", "--out", str(out),
                 "-f", "tsv")
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.stdout.startswith("t\trank\tword\tscore\n")


# --------------------------------------------------------------------------- dimensionality


def test_dims_is_numpys_pca_of_the_frequent_words(runner, bundled_kv):
    data = run_json(runner, "dims", "--sample", "3000", "--top", "5")
    rows = np.asarray([_unit(bundled_kv[w]) for w in bundled_kv.index_to_key[:3000]])
    s = np.linalg.svd(rows - rows.mean(axis=0), compute_uv=False) ** 2
    shares = s / s.sum()
    assert data["sample"] == 3000 and data["dimensions"] == 50
    assert [c["variance"] for c in data["components"]] == pytest.approx(shares[:5], abs=1e-6)
    assert data["components"][-1]["cumulative"] == pytest.approx(shares[:5].sum(), abs=1e-6)
    assert data["half"] == int(np.searchsorted(np.cumsum(shares), 0.5) + 1)


def test_plot_variance_draws_every_component(bundled, runner, tmp_path):
    from embedcli.classroom import variance_picture

    pic = variance_picture(bundled, sample=3000)
    fig = _figure(pic)
    bars = fig.axes[0].patches
    assert len(bars) == 50
    assert [b.get_height() for b in bars] == pytest.approx(pic.variance.shares)
    assert any("3,000 most frequent words" in t.get_text() for t in fig.texts)
    out = tmp_path / "v.png"
    assert run(runner, "plot", "--variance", "--sample", "3000", "-o", str(out)).exit_code == 0
