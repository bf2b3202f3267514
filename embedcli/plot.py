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


def draw(picture: Picture, out: Path, dpi: int = DPI) -> list[str]:
    """Write the picture to ``out`` (format from its ending) at ``dpi`` dots per inch (a
    PNG's size; SVG and PDF are drawn to scale); returns notes for the user."""
    fmt = output_format(out)
    if not out.parent.is_dir():
        raise UsageError(f"cannot write {out}: the folder {out.parent} does not exist")
    with _style(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = figure(picture, dpi)
        _save(fig, out, fmt)
    notes: list[str] = []
    if any("missing from font" in str(w.message) or "Glyph" in str(w.message)
           for w in caught):
        notes.append("some characters of the words are not in the font (DejaVu Sans) and "
                     "show as boxes")
    return notes


def _style() -> Any:
    """matplotlib's defaults and ours, not the user's matplotlibrc: the same picture for
    everyone."""
    import contextlib

    import matplotlib
    import matplotlib.style

    rc: Any = _RC  # matplotlib types its keys as a Literal of every rc name
    stack = contextlib.ExitStack()
    stack.enter_context(matplotlib.style.context("default"))
    stack.enter_context(matplotlib.rc_context(rc))
    return stack


def figure(picture: Picture, dpi: int = DPI) -> Any:
    """The picture as a matplotlib ``Figure`` (on the Agg canvas), drawn but not saved:
    what ``draw`` writes, and what tests inspect."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with _style():
        if picture.kind == "variance":
            fig = Figure(figsize=(8, 5), dpi=dpi)
            canvas = FigureCanvasAgg(fig)
            _variance(fig, canvas.get_renderer(), picture)
        elif picture.kind == "heatmap":
            n = len(picture.words)
            side = max(4.5, 0.55 * n + 2.5)
            fig = Figure(figsize=(side + 1.2, side), dpi=dpi)
            FigureCanvasAgg(fig)
            _heatmap(fig, picture)
        else:
            fig = Figure(figsize=(8, 6.5), dpi=dpi)
            canvas = FigureCanvasAgg(fig)
            _scatter(fig, canvas.get_renderer(), picture)
    return fig


def _save(fig: Any, out: Path, fmt: str) -> None:
    write_atomically(out, lambda handle: fig.savefig(handle, format=fmt, dpi=fig.dpi,
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

# the colours of --group (matplotlib's tab10 without the picture's own inks)
GROUP_INK = ["#1f77b4", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
             "#7f7f7f", "#ff7f0e", "#2ca02c"]
# the offsets of a first and a second --analogy (and more: the list repeats)
OFFSET_INK = ["#ef6c00", "#00838f", "#ad1457", "#558b2f"]


def _scatter(fig: Any, renderer: Any, picture: Picture) -> None:
    import numpy as np

    proj = picture.projection
    assert proj is not None
    xy = np.asarray(proj.coords, dtype=float)
    fig.subplots_adjust(left=0.09, right=0.97, bottom=0.13 if picture.note else 0.09,
                        top=0.90)  # (the bottom grows with the legend: _legend_room)
    ax = fig.add_subplot()
    arrows = picture.arrows or []
    analogy = {i for a in arrows for i in (a.start, a.end)}
    roles = ["centre" if i == picture.centre else "analogy" if i in analogy else "word"
             for i in range(len(picture.words))]
    colour = {i: GROUP_INK[k % len(GROUP_INK)]
              for k, (_, members) in enumerate(picture.groups) for i in members}
    marks = picture.marks or []
    path = picture.path
    extra = [np.array([p for _, p in marks])] if marks else []
    extra += [np.array([p.xy for p in path])] if path else []
    points = np.vstack([xy, *extra])
    handles = _handles(picture, arrows, marks)
    legend_top = _legend_room(ax, len(handles), bool(picture.note))
    _limits(ax, points)
    if picture.background is not None and len(picture.background):
        bg = np.asarray(picture.background)
        ax.scatter(bg[:, 0], bg[:, 1], s=6, color="#c8c8c8", zorder=1, linewidths=0)
    for arrow in arrows:
        start, end = xy[arrow.start], xy[arrow.end]
        if arrow.kind == "offset":
            props = {"arrowstyle": "-|>", "lw": 2.2, "mutation_scale": 16, "shrinkA": 6,
                     "shrinkB": 6, "color": OFFSET_INK[arrow.analogy % len(OFFSET_INK)]}
        else:
            props = {"arrowstyle": "-", "color": INK["side"], "lw": 1.2, "ls": "--",
                     "shrinkA": 6, "shrinkB": 6}
        ax.annotate("", xy=tuple(end), xytext=tuple(start), arrowprops=props, zorder=2)
    if path:
        line = np.array([p.xy for p in path])
        ax.plot(line[:, 0], line[:, 1], color=INK["mark"], lw=1.6, zorder=2,
                marker="o", markersize=4)
    for role in ("word", "analogy", "centre"):
        idx = [i for i, r in enumerate(roles) if r == role and i not in colour]
        if idx:
            ax.scatter(xy[idx, 0], xy[idx, 1], s=60 if role == "centre" else 34,
                       color=INK[role], zorder=3, edgecolors="white", linewidths=0.8)
    for k, (name, members) in enumerate(picture.groups):
        idx = [i for i in members if roles[i] == "word" or colour.get(i)]
        ax.scatter(xy[idx, 0], xy[idx, 1], s=40, color=GROUP_INK[k % len(GROUP_INK)],
                   zorder=3, edgecolors="white", linewidths=0.8, label=name)
    for _label, (x, y) in marks:
        ax.scatter([x], [y], marker="X", s=70, color=INK["mark"], zorder=3)
    if proj.method == "axes" and picture.axes is not None:
        (xa, xb), (ya, yb) = picture.axes
        ax.set_xlabel(f"\u2190 {xa}        cosine with {xb} - {xa}        {xb} \u2192")
        ax.set_ylabel(f"\u2190 {ya}        cosine with {yb} - {ya}        {yb} \u2192")
        ax.axhline(0, color="#dddddd", lw=0.8, zorder=0)
        ax.axvline(0, color="#dddddd", lw=0.8, zorder=0)
    elif proj.method == "pca" and proj.explained:
        ax.set_xlabel(f"first principal component ({proj.explained[0]:.0%} of the variance)")
        ax.set_ylabel(f"second principal component ({proj.explained[1]:.0%})")
        ax.grid(True, color="#eeeeee", zorder=0)
        ax.set_axisbelow(True)
    else:
        ax.set_xlabel("t-SNE 1 (distances between clusters mean little)")
        ax.set_ylabel("t-SNE 2")
        ax.set_xticks([])
        ax.set_yticks([])
    _legend(ax, handles, legend_top)
    # the label search avoids points and the lines drawn between them
    obstacles = [np.asarray(p) for p in points]
    segments = [(xy[a.start], xy[a.end]) for a in arrows]
    if path:
        segments += [(np.asarray(p.xy), np.asarray(q.xy)) for p, q in zip(path, path[1:])]
    for start, end in segments:
        obstacles += [start + (end - start) * f for f in np.linspace(0.08, 0.92, 24)]
    labels = [(w, tuple(xy[i]), roles[i], colour.get(i)) for i, w in enumerate(picture.words)]
    labels += [(label, p, "mark", None) for label, p in marks]
    shown = set(picture.words)
    labels += [(p.nearest, p.xy, "step", None) for p in path
               if p.nearest and (p.t not in (0.0, 1.0) or p.nearest not in shown)]
    _title(fig, ax, renderer, picture.title)
    if picture.note:
        _note(fig, renderer, picture.note)
    _place_labels(ax, renderer, labels, np.array(obstacles))


def _handles(picture: Picture, arrows: list[Any], marks: list[Any]) -> list[Any]:
    """The legend's entries: what each colour, line and mark stands for."""
    from matplotlib.lines import Line2D

    handles: list[Any] = []
    for k, o in enumerate(picture.offsets):
        handles.append(Line2D([], [], color=OFFSET_INK[k % len(OFFSET_INK)], lw=2.2,
                              label=f"the offsets {o.a} \u2192 {o.b} and {o.c} \u2192 {o.d}: "
                                    f"cosine {o.cosine:.2f} (about {o.degrees:.0f}\u00b0)"))
    if arrows:
        handles.append(Line2D([], [], color=INK["side"], lw=1.2, ls="--",
                              label="the other two sides"))
    for label, _ in marks:
        handles.append(Line2D([], [], color=INK["mark"], marker="X", ls="none",
                              markersize=8, label=f"{label}, computed"))
    if picture.path:
        handles.append(Line2D([], [], color=INK["mark"], lw=1.6, marker="o", markersize=4,
                              label="the straight path, labelled with the nearest word "
                                    "at each step"))
    for k, (name, _) in enumerate(picture.groups):
        handles.append(Line2D([], [], color=GROUP_INK[k % len(GROUP_INK)], marker="o",
                              ls="none", markersize=7, label=name))
    if picture.background is not None and len(picture.background):
        handles.append(Line2D([], [], color="#c8c8c8", marker="o", ls="none", markersize=4,
                              label=f"{len(picture.background):,} frequent words"))
    return handles


def _legend_room(ax: Axes, lines: int, note: bool) -> float:
    """Room below the axes (under the x label, above the note) for a legend of ``lines``
    lines: inside the axes, "best" is fooled by the background's dots and covers words.
    Returns where the legend's top goes, as a share of the figure's height."""
    inches = ax.figure.get_size_inches()[1]  # type: ignore[union-attr]
    line = 0.17 / inches  # one legend line of 8-point text, as a share of the height
    foot = 0.05 if note else 0.015
    top = foot + line * lines
    box = ax.get_position()
    bottom = max(box.y0, top + 0.085)  # the ticks and the x label between
    ax.set_position((box.x0, bottom, box.width, box.y1 - bottom))
    return top


def _legend(ax: Axes, handles: list[Any], top: float) -> None:
    if handles:
        ax.legend(handles=handles, loc="upper left", fontsize=8, frameon=False,
                  bbox_to_anchor=(ax.get_position().x0 - 0.01, top),
                  bbox_transform=ax.figure.transFigure, borderaxespad=0.0,
                  handlelength=2.2, labelspacing=0.3)


def _title(fig: Any, ax: Axes, renderer: Any, title: str) -> None:
    """The title at the left of the axes, wrapped (then made smaller) until it fits within
    the figure: never cut at the right edge."""
    import textwrap

    right = fig.bbox.x1 - 6
    for size in (12, 11, 10, 9, 8):
        for width in range(len(title), 19, -4):
            text = "\n".join(textwrap.wrap(title, width, break_long_words=True)) or title
            if text.count("\n") > 2:
                break
            handle = ax.set_title(text, loc="left", fontsize=size)
            if handle.get_window_extent(renderer).x1 <= right:
                return
    ax.set_title("\n".join(textwrap.wrap(title, 60)), loc="left", fontsize=8)


def _note(fig: Any, renderer: Any, note: str) -> None:
    """How the picture was made, at its foot, wrapped to the figure's width."""
    import textwrap

    for width in range(len(note), 19, -5):
        handle = fig.text(0.01, 0.012, "\n".join(textwrap.wrap(note, width)), fontsize=8,
                          color="#555555", ha="left", va="bottom")
        if handle.get_window_extent(renderer).x1 <= fig.bbox.x1 - 4:
            return
        handle.remove()
    fig.text(0.01, 0.012, "\n".join(textwrap.wrap(note, 60)), fontsize=7, color="#555555",
             ha="left", va="bottom")


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
# the corners and farther out; then rings farther still, with a thin line to the point.
_SPOTS = [(7, 0, "left", "center"), (-7, 0, "right", "center"), (0, 7, "center", "bottom"),
          (0, -7, "center", "top"), (6, 6, "left", "bottom"), (-6, 6, "right", "bottom"),
          (6, -6, "left", "top"), (-6, -6, "right", "top"), (14, 10, "left", "bottom"),
          (-14, 10, "right", "bottom"), (14, -10, "left", "top"), (-14, -10, "right", "top"),
          (0, 16, "center", "bottom"), (0, -16, "center", "top")]


def _rings() -> list[tuple[float, float, str, str]]:
    import math

    out = []
    for radius in (24, 34, 46, 60, 76):
        for k in range(16):
            angle = 2 * math.pi * k / 16
            dx, dy = radius * math.cos(angle), radius * math.sin(angle)
            ha = "left" if dx > 1 else "right" if dx < -1 else "center"
            va = "bottom" if dy > 1 else "top" if dy < -1 else "center"
            out.append((round(dx, 1), round(dy, 1), ha, va))
    return out


_FAR = _rings()
STYLES: dict[str, dict[str, Any]] = {
    "centre": {"fontweight": "bold", "color": INK["centre"], "fontsize": 12},
    "analogy": {"fontweight": "bold", "color": INK["analogy"], "fontsize": 11},
    "word": {"color": "#222222", "fontsize": 10},
    "mark": {"style": "italic", "color": INK["mark"], "fontsize": 9},
    "step": {"style": "italic", "color": INK["mark"], "fontsize": 9},
}


def _place_labels(ax: Axes, renderer: Any, labels: list[tuple[str, tuple, str, str | None]],
                  points: Any) -> None:
    """Put each label where it overlaps least with the labels placed before it, the points
    and the edges: first the spots next to its point, then (only if those all collide)
    rings farther out, joined to the point by a thin line. The first free spot wins, so
    the result is the same on every run."""
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox

    to_px = ax.transData.transform
    marker = 5.0 * ax.figure.dpi / 72  # a point's half-size in pixels, with a margin
    dots = [Bbox.from_extents(x - marker, y - marker, x + marker, y + marker)
            for x, y in (to_px(p) for p in points)]
    frame = ax.get_window_extent(renderer)
    taken: list[Any] = []
    rank = {"centre": 0, "analogy": 1, "word": 2, "step": 3, "mark": 4}
    order = sorted(range(len(labels)), key=lambda k: (rank[labels[k][2]], k))
    for k in order:
        text, (x, y), role, colour = labels[k]
        style = dict(STYLES[role])
        if colour is not None:
            style["color"] = colour
        best = None
        for near, spots in ((True, _SPOTS), (False, _FAR)):
            for dx, dy, ha, va in spots:
                extra: dict[str, Any] = {} if near else {"arrowprops": {
                    "arrowstyle": "-", "color": "#9e9e9e", "lw": 0.6, "shrinkA": 0,
                    "shrinkB": 3}}
                ann = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points",
                                  ha=ha, va=va, zorder=4, **style, **extra)
                ann.update_positions(renderer)
                box = Text.get_window_extent(ann, renderer)  # the text, not its line
                cost = sum(_overlap(box, other) for other in taken)
                cost += sum(_overlap(box, dot) for dot in dots)
                cost += 40 * (box.width * box.height - _overlap(box, frame))  # outside
                if best is None or cost < best[0]:
                    if best is not None:
                        best[1].remove()
                    best = (cost, ann, box)
                else:
                    ann.remove()
                if cost == 0:
                    break
            if best is not None and best[0] == 0:
                break
        assert best is not None
        best[1].set_bbox({"boxstyle": "round,pad=0.12", "facecolor": "white", "alpha": 0.75,
                          "edgecolor": "none"})
        best[1].set_gid(f"label:{role}")  # tests find the labels among the texts by this
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


# --------------------------------------------------------------------------- variance


def _variance(fig: Any, renderer: Any, picture: Picture) -> None:
    """The share of the variance each principal component holds (bars), and the running
    total (a line), with the components that reach half and nine tenths of it marked."""
    import numpy as np

    dims = picture.variance
    assert dims is not None
    shares = np.asarray(dims.shares, dtype=float)
    k = np.arange(1, len(shares) + 1)
    fig.subplots_adjust(left=0.09, right=0.91, bottom=0.16, top=0.86)
    ax = fig.add_subplot()
    ax.bar(k, shares, color=INK["word"], width=0.8, label="each component's share")
    ax.set_xlabel("principal component")
    ax.set_ylabel("share of the variance")
    ax.set_xlim(0.3, len(shares) + 0.7)
    total = ax.twinx()
    total.spines["right"].set_visible(True)
    total.plot(k, np.cumsum(shares), color=INK["offset"], lw=2, label="running total")
    total.set_ylim(0, 1.02)
    total.set_ylabel("running total")
    for part in (0.5, 0.9):
        n = dims.holding(part)
        total.axhline(part, color="#bbbbbb", lw=0.8, ls="--")
        total.annotate(f"{n} components hold {part:.0%}", (n, part), xytext=(6, -12),
                       textcoords="offset points", fontsize=9, color="#444444")
    lines = ax.get_legend_handles_labels()
    more = total.get_legend_handles_labels()
    total.legend(lines[0] + more[0], lines[1] + more[1], loc="center right", fontsize=8)
    _title(fig, ax, renderer, picture.title)
    if picture.note:
        _note(fig, renderer, picture.note)
