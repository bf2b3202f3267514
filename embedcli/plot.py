"""Drawing a ``classroom.Picture`` to PNG, SVG or PDF with matplotlib.

Only this module imports matplotlib, and only when a picture is drawn. It uses the
object-oriented API (``Figure`` with the Agg canvas), never ``pyplot``: no window, no
global state, whatever the user's backend setting. The same words give the same bytes:
no dates in the files, a fixed salt for SVG ids, matplotlib's own DejaVu font, and labels
placed by a deterministic search.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from embedcli.classroom import Picture
from embedcli.errors import UsageError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

FORMATS = ("png", "svg", "pdf")
_RC: dict[str, Any] = {
    "svg.hashsalt": "embedcli",  # ids in the SVG: the same on every run
    "svg.fonttype": "none",  # labels stay text in the SVG: searchable, selectable
    "pdf.fonttype": 42,  # TrueType in the PDF, so its text is text too
    "font.family": "DejaVu Sans",  # shipped with matplotlib: the same glyphs everywhere
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_METADATA = {
    "png": {"Software": "embedcli (matplotlib)"},
    "svg": {"Date": None, "Creator": "embedcli (matplotlib)"},
    "pdf": {"CreationDate": None, "ModDate": None, "Creator": "embedcli (matplotlib)"},
}
INK = {"word": "#1f4e79", "analogy": "#2e7d32", "centre": "#c62828", "offset": "#ef6c00",
       "side": "#9e9e9e", "mark": "#6a1b9a"}
DPI = 150


def output_format(path: Path) -> str:
    ext = path.suffix.lower().lstrip(".")
    if ext not in FORMATS:
        raise UsageError(f"--out {path}: the file name must end in .png, .svg or .pdf")
    return ext


def draw(picture: Picture, out: Path) -> list[str]:
    """Write the picture to ``out`` (format from its ending); returns notes for the user."""
    fmt = output_format(out)
    if not out.parent.is_dir():
        raise UsageError(f"cannot write {out}: the folder {out.parent} does not exist")
    import matplotlib
    import matplotlib.style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    notes: list[str] = []
    # matplotlib's defaults, not the user's matplotlibrc: the same picture for everyone
    rc: Any = _RC  # matplotlib types its keys as a Literal of every rc name
    with matplotlib.style.context("default"), matplotlib.rc_context(rc), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if picture.kind == "heatmap":
            n = len(picture.words)
            side = max(4.5, 0.55 * n + 2.5)
            fig = Figure(figsize=(side + 1.2, side), dpi=DPI)
            FigureCanvasAgg(fig)
            _heatmap(fig, picture)
        else:
            fig = Figure(figsize=(8, 6.5), dpi=DPI)
            canvas = FigureCanvasAgg(fig)
            _scatter(fig, canvas.get_renderer(), picture)
        _save(fig, out, fmt)
    if any("missing from font" in str(w.message) or "Glyph" in str(w.message)
           for w in caught):
        notes.append("some characters of the words are not in the font (DejaVu Sans) and "
                     "show as boxes")
    return notes


def _save(fig: Any, out: Path, fmt: str) -> None:
    write_atomically(out, lambda handle: fig.savefig(handle, format=fmt, dpi=DPI,
                                                     metadata=_METADATA[fmt]))


def write_atomically(out: Path, write: Callable[[BinaryIO], object], *,
                     keep: bool = True) -> None:
    """Write ``out`` through a temporary file in the same folder, renamed into place, so a
    failed write leaves nothing (``explore``'s pages are written this way too). With
    ``keep=False`` the file is only tried, and removed: whether the folder can be written,
    said before any work."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        if keep:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # as an ordinary new file (mkstemp's is private)
            os.replace(tmp, out)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# --------------------------------------------------------------------------- scatter


def _scatter(fig: Any, renderer: Any, picture: Picture) -> None:
    import numpy as np

    proj = picture.projection
    assert proj is not None
    xy = np.asarray(proj.coords, dtype=float)
    fig.subplots_adjust(left=0.09, right=0.97, bottom=0.09, top=0.92)
    ax = fig.add_subplot()
    ax.set_title(picture.title, loc="left", fontsize=12)
    arrows = picture.arrows or []
    analogy = {i for a in arrows for i in (a.start, a.end)}
    roles = ["centre" if i == picture.centre else "analogy" if i in analogy else "word"
             for i in range(len(picture.words))]
    marks = picture.marks or []
    points = np.vstack([xy, *([np.array([p for _, p in marks])] if marks else [])])
    _limits(ax, points)
    for arrow in arrows:
        start, end = xy[arrow.start], xy[arrow.end]
        if arrow.kind == "offset":
            props = {"arrowstyle": "-|>", "color": INK["offset"], "lw": 2.2,
                     "mutation_scale": 16, "shrinkA": 6, "shrinkB": 6}
        else:
            props = {"arrowstyle": "-", "color": INK["side"], "lw": 1.2, "ls": "--",
                     "shrinkA": 6, "shrinkB": 6}
        ax.annotate("", xy=tuple(end), xytext=tuple(start), arrowprops=props, zorder=2)
    for role in ("word", "analogy", "centre"):
        idx = [i for i, r in enumerate(roles) if r == role]
        if idx:
            ax.scatter(xy[idx, 0], xy[idx, 1], s=60 if role == "centre" else 34,
                       color=INK[role], zorder=3, edgecolors="white", linewidths=0.8)
    for _label, (x, y) in marks:
        ax.scatter([x], [y], marker="X", s=70, color=INK["mark"], zorder=3)
    if proj.method == "pca" and proj.explained:
        ax.set_xlabel(f"first principal component ({proj.explained[0]:.0%} of the variance)")
        ax.set_ylabel(f"second principal component ({proj.explained[1]:.0%})")
        ax.grid(True, color="#eeeeee", zorder=0)
        ax.set_axisbelow(True)
    else:
        ax.set_xlabel("t-SNE 1 (distances between clusters mean little)")
        ax.set_ylabel("t-SNE 2")
        ax.set_xticks([])
        ax.set_yticks([])
    if arrows:
        from matplotlib.lines import Line2D

        a, b, c, d = (picture.words[i] for i in (arrows[0].start, arrows[0].end,
                                                  arrows[1].start, arrows[1].end))
        handles = [Line2D([], [], color=INK["offset"], lw=2.2,
                          label=f"the offsets {a} \u2192 {b} and {c} \u2192 {d}"),
                   Line2D([], [], color=INK["side"], lw=1.2, ls="--",
                          label="the other two sides")]
        if marks:
            handles.append(Line2D([], [], color=INK["mark"], marker="X", ls="none",
                                  markersize=8, label=f"{marks[0][0]}, computed"))
        ax.legend(handles=handles, loc="best", fontsize=8, frameon=True, framealpha=0.9)
    # the label search avoids points and the lines drawn between them
    obstacles = [np.asarray(p) for p in points]
    for arrow in arrows:
        start, end = xy[arrow.start], xy[arrow.end]
        obstacles += [start + (end - start) * f for f in np.linspace(0.08, 0.92, 24)]
    labels = [(w, tuple(xy[i]), roles[i]) for i, w in enumerate(picture.words)]
    labels += [(label, p, "mark") for label, p in marks]
    _place_labels(ax, renderer, labels, np.array(obstacles))


def _limits(ax: Axes, points: Any) -> None:
    """Equal scales on both axes (distances are shown truly), with room for the labels:
    the padded data range is widened along one axis to the shape of the axes."""
    import numpy as np

    lo, hi = points.min(axis=0), points.max(axis=0)
    span = np.maximum(hi - lo, 1e-9)
    span = np.maximum(span, 0.05 * span.max())
    centre = (lo + hi) / 2
    want = span * np.array([1.32, 1.2])  # padding: labels run to the right or left
    box = ax.get_position()
    figure = ax.figure  # a Figure: the plots here have no subfigures
    inches = figure.get_size_inches()  # type: ignore[union-attr]
    width, height = inches * np.array([box.width, box.height])
    per_inch = max(want[0] / width, want[1] / height)
    half = np.array([width, height]) * per_inch / 2
    ax.set_xlim(centre[0] - half[0], centre[0] + half[0])
    ax.set_ylim(centre[1] - half[1], centre[1] + half[1])


# Where a label may go, relative to its point, in points: right, left, above, below, then
# the corners and farther out.
_SPOTS = [(7, 0, "left", "center"), (-7, 0, "right", "center"), (0, 7, "center", "bottom"),
          (0, -7, "center", "top"), (6, 6, "left", "bottom"), (-6, 6, "right", "bottom"),
          (6, -6, "left", "top"), (-6, -6, "right", "top"), (14, 10, "left", "bottom"),
          (-14, 10, "right", "bottom"), (14, -10, "left", "top"), (-14, -10, "right", "top"),
          (0, 16, "center", "bottom"), (0, -16, "center", "top")]


def _place_labels(ax: Axes, renderer: Any, labels: list[tuple[str, tuple, str]],
                  points: Any) -> None:
    """Put each label where it overlaps least with the labels placed before it, the points
    and the edges; the first free spot wins, so the result is the same on every run."""
    from matplotlib.transforms import Bbox

    to_px = ax.transData.transform
    marker = 5.0 * DPI / 72  # a point's half-size in pixels, with a margin
    dots = [Bbox.from_extents(x - marker, y - marker, x + marker, y + marker)
            for x, y in (to_px(p) for p in points)]
    frame = ax.get_window_extent(renderer)
    taken: list[Any] = []
    order = sorted(range(len(labels)), key=lambda k: ({"centre": 0, "analogy": 1, "word": 2,
                                                       "mark": 3}[labels[k][2]], k))
    for k in order:
        text, (x, y), role = labels[k]
        styles: dict[str, dict[str, Any]] = {
                 "centre": {"fontweight": "bold", "color": INK["centre"], "fontsize": 12},
                 "analogy": {"fontweight": "bold", "color": INK["analogy"], "fontsize": 11},
                 "word": {"color": "#222222", "fontsize": 10},
                 "mark": {"style": "italic", "color": INK["mark"], "fontsize": 9}}
        style = styles[role]
        best = None
        for dx, dy, ha, va in _SPOTS:
            ann = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points",
                              ha=ha, va=va, zorder=4, **style)
            box = ann.get_window_extent(renderer)
            cost = sum(_overlap(box, other) for other in taken)
            cost += sum(_overlap(box, dot) for dot in dots)
            cost += 4 * (box.width * box.height - _overlap(box, frame))  # outside the axes
            if best is None or cost < best[0]:
                if best is not None:
                    best[1].remove()
                best = (cost, ann, box)
            else:
                ann.remove()
            if cost == 0:
                break
        assert best is not None
        best[1].set_bbox({"boxstyle": "round,pad=0.12", "facecolor": "white", "alpha": 0.75,
                          "edgecolor": "none"})
        taken.append(best[2])


def _overlap(a: Any, b: Any) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


# --------------------------------------------------------------------------- heat map


def _heatmap(fig: Any, picture: Picture) -> None:
    import numpy as np

    matrix = np.asarray(picture.matrix, dtype=float)
    n = len(picture.words)
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="RdBu_r", vmin=-1.0, vmax=1.0)
    ax.set_xticks(range(n), picture.words, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(n), picture.words)
    ax.spines[:].set_visible(False)
    ax.tick_params(length=0)
    size = 9 if n <= 12 else 7
    for i in range(n):
        for j in range(n):
            x = matrix[i, j]
            ax.text(j, i, f"{x:.2f}", ha="center", va="center", fontsize=size,
                    color="white" if abs(x) > 0.6 else "black")
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label("cosine similarity")
    ax.set_title(picture.title, loc="left", fontsize=12)
    fig.set_layout_engine("tight")
