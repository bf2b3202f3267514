"""Writing an ``explore.Map`` as one self-contained HTML page, drawn by plotly.js.

Only this module imports plotly, and only when a page is written. The page holds
everything it uses: plotly.js itself (inlined, as plotly's ``include_plotlyjs=True``
does), its style and the map's data; fonts are the system's, and nothing is fetched, so it
works offline and can be mailed. plotly.js draws, zooms, pans and shows the hover labels;
a short script of our own (``_SCRIPT``) adds the search box and what a click shows.

The figure is built here as plain data and handed to ``Plotly.newPlot`` by that script:
the numbers are rounded and written by ``json`` with a fixed layout, no id is random and
nothing holds a date, so the same map gives the same bytes on every run (plotly's own
``to_html`` writes through orjson when it is installed, which formats numbers otherwise).
"""

from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path
from typing import Any

from embedcli import __version__
from embedcli.errors import UsageError
from embedcli.explore import Map
from embedcli.plot import write_atomically

DIV_ID = "embedcli-map"
EXTENSIONS = (".html", ".htm")
PLACES = 5  # decimals of a coordinate: far below a pixel at any zoom a map is read at
INK = {"given": "#1f4e79", "neighbor": "#4f86c6", "frequent": "#a7b0bd", "offset": "#ef6c00",
       "lit": "#ef6c00", "selected": "#c62828"}
# groups: colours that stay apart from the ones above and from each other (Okabe-Ito, and
# a few of Tableau's)
GROUP_INK = ["#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#d55e00", "#0072b2", "#8c564b",
             "#7f7f7f", "#bcbd22", "#17becf", "#9467bd", "#f0e442"]
NAMED = {"given": "your words", "analogy": "your words", "axis": "your words",
         "listed": "your words", "neighbor": "their nearest neighbours",
         "frequent": "frequent words (context)"}


def check_out(out: Path) -> None:
    """Where the page goes, checked before any work: an .html name in a folder that
    exists and can be written (a file is tried there and removed)."""
    if out.suffix.lower() not in EXTENSIONS:
        raise UsageError(f"--out {out}: the file name must end in .html")
    if out.is_dir():
        raise UsageError(f"cannot write {out}: it is a directory")
    if not out.parent.is_dir():
        raise UsageError(f"cannot write {out}: the folder {out.parent} does not exist")
    write_atomically(out, lambda _handle: None, keep=False)


def write(page_map: Map, out: Path, *, title: str | None = None) -> int:
    """Write the page to ``out`` (atomically: a temporary file, then a rename); returns
    its size in bytes."""
    data = page(page_map, title=title).encode("utf-8")
    write_atomically(out, lambda handle: handle.write(data))
    return len(data)


# --------------------------------------------------------------------------- the page


def page(m: Map, *, title: str | None = None) -> str:
    """The whole page, as text."""
    plotly_js = _plotly_js()
    heading = title or default_title(m)
    summary = _summary(m)
    words = m.words
    extra: list[str] = []  # neighbours that are not on the map, listed all the same
    at = {w: k for k, w in enumerate(words)}
    near_rows, near_cos = [], []
    for hits in m.neighbours:
        rows = []
        for hit in hits:
            k = at.get(hit.word)
            if k is None:
                k = at[hit.word] = len(words) + len(extra)
                extra.append(hit.word)
            rows.append(k)
        near_rows.append(rows)
        near_cos.append([_four(h.score) for h in hits])
    data = {
        "model": m.model, "vocabulary": m.vocabulary, "dim": m.dim, "dims": m.dims,
        "top": m.top, "n": len(words), "words": [*words, *extra],
        # the words whose own trace labels them: lit up, they need no second label
        "labelled": [k for k, r in enumerate(m.roles)
                     if r != "frequent" or m.group_of[k] is not None],
        "coords": [[_round(v) for v in row] for row in m.coords.tolist()],
        "neighbours": near_rows, "cosines": near_cos,
        "analogies": [{"text": o.text, "a": o.a, "b": o.b, "c": o.c, "d": o.d,
                       "cosine": _four(o.cosine)} for o in m.analogies],
        "figure": figure(m), "config": _CONFIG, "div": DIV_ID,
    }
    options = "".join(f'<option value="{html.escape(w)}"></option>' for w in words)
    return _fill(
        _TEMPLATE, version=html.escape(__version__), title=html.escape(heading),
        summary=summary, about=_about(m), analogies=_analogies(m),
        div=DIV_ID, options=options, data=_script_json(data),
        plotly_version=html.escape(_plotly_version()), plotly=plotly_js, script=_SCRIPT,
        style=_STYLE)


def default_title(m: Map) -> str:
    return f"{len(m.words):,} words of {m.model} ({_method_name(m)})"


def _method_name(m: Map) -> str:
    return {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP", "axes": "two directions"
            if m.dims == 2 else "three directions"}[m.method]


def axis_titles(m: Map) -> list[str]:
    """What each axis shows: a principal component and its share of the variance, a
    direction from one word to another, or a t-SNE / UMAP dimension."""
    if m.method == "pca" and m.explained:
        if m.dims == 3:  # a 3-D scene has little room for its axes' titles
            return [f"PC{i + 1} ({share:.1%} of the variance)"
                    for i, share in enumerate(m.explained)]
        ordinal = ["first", "second", "third"]
        return [f"{ordinal[i]} principal component ({share:.1%} of the variance)"
                for i, share in enumerate(m.explained)]
    if m.method == "axes":
        return [f"{a.start} \u2192 {a.end} (cosine with the direction)" for a in m.axes]
    name = {"tsne": "t-SNE", "umap": "UMAP"}[m.method]
    return [f"{name} {i + 1}" for i in range(m.dims)]


def _summary(m: Map) -> str:
    n = f"{len(m.words):,}"
    if m.method == "pca" and m.explained:
        shares = " + ".join(f"{s:.1%}" for s in m.explained)
        text = (f"PCA of these {n} words: the {m.dims} axes keep {shares} = "
                f"{sum(m.explained):.1%} of the variance of their {m.dim}-dimensional vectors.")
    elif m.method == "axes":
        text = (f"{n} words on directions of the space: a word's coordinate on an axis is "
                "the cosine of its vector with the direction from one end to the other.")
    else:
        text = (f"{_method_name(m)} of these {n} words (seed {m.seed}): near words stay "
                "near, but distances between clusters mean little.")
    return html.escape(text)


def _about(m: Map) -> str:
    how = ("Drag to turn the map, scroll to zoom" if m.dims == 3 else
           "Scroll to zoom, drag to pan, double-click to see the whole map again")
    return html.escape(f"Hover over a point to see its word; click a word to light up its "
                       f"{m.top} nearest neighbours. {how}.")


def _analogies(m: Map) -> str:
    if not m.analogies:
        return ""
    items = []
    for o in m.analogies:
        a, b, c, d = (m.words[i] for i in (o.a, o.b, o.c, o.d))
        degrees = math.degrees(math.acos(max(-1.0, min(1.0, o.cosine))))
        items.append(f"<li><b>{html.escape(a)} \u2192 {html.escape(b)}</b> and "
                     f"<b>{html.escape(c)} \u2192 {html.escape(d)}</b>: the two offsets have "
                     f"cosine <b>{o.cosine:.4f}</b> (about {degrees:.0f}\u00b0) in the full "
                     f"{m.dim}-dimensional space</li>")
    return ('<section id="analogies"><h2>Analogies</h2><ul>' + "".join(items) +
            "</ul><p class=\"note\">Parallel offsets (cosine near 1) are what an analogy "
            "needs; the arrows on the map are their shadows on the picture's plane.</p>"
            "</section>")


# --------------------------------------------------------------------------- the figure


_CONFIG = {"displaylogo": False, "scrollZoom": True, "responsive": True,
           "modeBarButtonsToRemove": ["select2d", "lasso2d"],
           "toImageButtonOptions": {"filename": "embedcli-map"}}


def figure(m: Map) -> dict[str, Any]:
    """The plotly figure (data and layout) as plain JSON-ready data. Two traces at the end
    are filled by the page's script: the lit neighbours, and the chosen word."""
    three = m.dims == 3
    kind = "scatter3d" if three else "scatter"
    xyz = m.coords
    order: list[tuple[str, list[int], str, str | None]] = []  # name, members, colour, group
    frequent = [k for k, r in enumerate(m.roles) if r == "frequent" and m.group_of[k] is None]
    named = [k for k, r in enumerate(m.roles)
             if r not in ("frequent", "neighbor") and m.group_of[k] is None]
    around = [k for k, r in enumerate(m.roles) if r == "neighbor" and m.group_of[k] is None]
    if frequent:
        order.append((NAMED["frequent"], frequent, INK["frequent"], None))
    if around:
        order.append((NAMED["neighbor"], around, INK["neighbor"], None))
    if named:
        order.append((NAMED["given"], named, INK["given"], None))
    for g, name in enumerate(m.groups):
        members = [k for k, x in enumerate(m.group_of) if x == g]
        order.append((name, members, GROUP_INK[g % len(GROUP_INK)], name))
    traces: list[dict[str, Any]] = []
    for name, members, colour, group in order:
        labelled = name != NAMED["frequent"]
        size = (2 if three else 6) if not labelled else (5 if three else 9)
        trace: dict[str, Any] = {
            "type": kind, "name": _text(name if group is None else
                                        f"{name} ({len(members)} words)"),
            "mode": "markers+text" if labelled else "markers",
            "customdata": members,
            "text": [_text(m.words[k]) for k in members],
            "hovertemplate": "%{text}<extra></extra>",
            "marker": {"size": size, "color": colour,
                       **({"opacity": 0.55} if three and not labelled else {}),
                       **({} if three else {"line": {"width": 0.6, "color": "#ffffff"}})},
            "textfont": {"size": 12 if labelled else 10, "color": "#222222"},
        }
        if labelled:
            trace["textposition"] = "top center"
        for axis, column in zip("xyz", range(m.dims), strict=False):
            trace[axis] = [_round(v) for v in xyz[members, column].tolist()]
        traces.append(trace)
    traces += _offset_traces(m) if three else []
    lit = {"type": kind, "name": "nearest neighbours (in the full space)", "mode":
           "markers+text", "x": [], "y": [], "text": [], "hovertext": [], "customdata": [],
           "textposition": "top center", "hovertemplate": "%{hovertext}<extra></extra>",
           # the size of a labelled word's marker, so that the labels fall on theirs
           "marker": {"size": 5 if three else 9, "color": INK["lit"],
                      "line": {"width": 2, "color": INK["lit"]}},
           "textfont": {"size": 13, "color": INK["lit"]}, "showlegend": False}
    chosen = {"type": kind, "name": "the word clicked or found", "mode": "markers+text",
              "x": [], "y": [], "text": [], "hovertext": [], "customdata": [],
              "textposition": "top center", "hovertemplate": "%{hovertext}<extra></extra>",
              "marker": {"size": 5 if three else 9, "color": INK["selected"],
                         "line": {"width": 4, "color": INK["selected"]}},
              "textfont": {"size": 15, "color": INK["selected"]}, "showlegend": False}
    if three:
        for t in (lit, chosen):
            t["z"] = []
    traces += [lit, chosen]
    titles = [_text(t) for t in axis_titles(m)]
    layout: dict[str, Any] = {
        "hovermode": "closest", "showlegend": True, "uirevision": "map",
        "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom",
                   "itemsizing": "constant"},
        "margin": {"l": 60, "r": 20, "t": 40, "b": 60},
        "font": {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"},
        "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff",
        "modebar": {"orientation": "v"},  # at the right edge, clear of the legend
    }
    if three:
        layout["scene"] = {f"{a}axis": {"title": {"text": t}} for a, t in zip("xyz", titles,
                                                                              strict=True)}
        layout["scene"]["aspectmode"] = "cube"
    else:
        grid = {"gridcolor": "#eeeeee", "zerolinecolor": "#dddddd"}
        layout["xaxis"] = {"title": {"text": titles[0]}, **grid}
        layout["yaxis"] = {"title": {"text": titles[1]}, **grid}
        layout["dragmode"] = "pan"
        layout["annotations"] = _offset_arrows(m)
    return {"data": traces, "layout": layout}


def _offset_arrows(m: Map) -> list[dict[str, Any]]:
    """Each analogy's two offsets (a -> b, c -> d) as arrows in data coordinates, which
    zoom and pan with the map."""
    out = []
    xy = m.coords
    for o in m.analogies:
        for start, end in ((o.a, o.b), (o.c, o.d)):
            out.append({"x": _round(xy[end, 0]), "y": _round(xy[end, 1]),
                        "ax": _round(xy[start, 0]), "ay": _round(xy[start, 1]),
                        "xref": "x", "yref": "y", "axref": "x", "ayref": "y",
                        "showarrow": True, "arrowhead": 3, "arrowsize": 1.4, "arrowwidth": 2.5,
                        "arrowcolor": INK["offset"], "standoff": 6, "startstandoff": 6,
                        "text": ""})
        mid = (xy[o.a] + xy[o.b] + xy[o.c] + xy[o.d]) / 4
        out.append({"x": _round(mid[0]), "y": _round(mid[1]), "xref": "x", "yref": "y",
                    "showarrow": False, "text": _text(f"offsets' cosine {o.cosine:.2f}"),
                    "font": {"color": INK["offset"], "size": 12},
                    "bgcolor": "rgba(255,255,255,0.8)"})
    return out


def _offset_traces(m: Map) -> list[dict[str, Any]]:
    """In 3-D, each offset as a line with a cone at its head."""
    out: list[dict[str, Any]] = []
    xyz = m.coords
    span = float((xyz.max(axis=0) - xyz.min(axis=0)).max()) or 1.0
    for o in m.analogies:
        for start, end in ((o.a, o.b), (o.c, o.d)):
            p, q = xyz[start], xyz[end]
            out.append({"type": "scatter3d", "mode": "lines", "showlegend": False,
                        "hoverinfo": "skip", "line": {"color": INK["offset"], "width": 6},
                        **{a: [_round(p[i]), _round(q[i])] for i, a in enumerate("xyz")}})
            d = q - p
            out.append({"type": "cone", "anchor": "tip", "sizemode": "absolute",
                        "sizeref": _round(span * 0.04), "showscale": False,
                        "hoverinfo": "skip",
                        "colorscale": [[0, INK["offset"]], [1, INK["offset"]]],
                        **{a: [_round(q[i])] for i, a in enumerate("xyz")},
                        **{a: [_round(d[i])] for i, a in enumerate("uvw")}})
    return out


# --------------------------------------------------------------------------- pieces


def _fill(template: str, **values: str) -> str:
    """The template's ``{name}`` places filled in one pass (what is filled in is not read
    again: the style and the scripts have braces of their own)."""
    return re.sub(r"\{(\w+)\}", lambda match: values[match.group(1)], template)


def _round(value: float) -> float:
    v = round(float(value), PLACES)
    return 0.0 if v == 0 else v  # no -0.0


def _four(score: float) -> float:
    """A cosine as the tables show it, to 4 decimals (a text that reads back the same)."""
    return float(f"{score:.4f}") if math.isfinite(score) else 0.0


def _text(text: str) -> str:
    """Text for plotly.js, which reads a few HTML tags and entities in labels: a word such
    as ``<b>`` or ``&amp;`` is shown as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _script_json(data: Any) -> str:
    """JSON that can sit inside a <script> element: no ``</script>`` or ``<!--`` can
    appear in it, whatever a word holds."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _plotly():
    try:
        import plotly.offline
    except ImportError:
        raise UsageError("embedcli explore needs plotly, which is not installed: pip install "
                         "plotly") from None
    return plotly.offline


def _plotly_js() -> str:
    js = _plotly().get_plotlyjs()
    return js.replace("</script", "<\\/script")


def _plotly_version() -> str:
    return str(_plotly().get_plotlyjs_version())


_STYLE = """
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #222; background: #fff; display: flex; flex-direction: column; }
header { padding: 10px 18px 4px; }
h1 { font-size: 20px; margin: 0 0 2px; }
h2 { font-size: 16px; margin: 14px 0 4px; }
.summary, .note { color: #555; margin: 2px 0; font-size: 13px; }
main { flex: 1; display: flex; min-height: 0; }
#embedcli-map { flex: 1; min-width: 0; min-height: 420px; }
aside { width: 330px; padding: 8px 16px; border-left: 1px solid #e5e5e5; overflow-y: auto; }
form { display: flex; flex-wrap: wrap; gap: 4px 6px; }
form label { width: 100%; }
input { flex: 1; font: inherit; padding: 4px 6px; }
button { font: inherit; }
#search-status { min-height: 1.4em; font-size: 13px; color: #555; }
#search-status.missing { color: #c62828; }
ol { padding-left: 0; margin: 4px 0; list-style: none; }
li.hit { display: flex; gap: 8px; padding: 1px 0; }
li.hit .rank { width: 2.2em; text-align: right; color: #777; }
li.hit .word { flex: 1; }
li.hit .score { font-variant-numeric: tabular-nums; }
li.hit.away .word { color: #777; }
li.hit .word button { border: 0; background: none; padding: 0; color: #1f4e79;
                      cursor: pointer; text-decoration: underline; }
.tag { font-size: 11px; color: #888; }
@media (max-width: 800px) { main { flex-direction: column; }
  aside { width: auto; border-left: 0; border-top: 1px solid #e5e5e5; } }
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="embedcli {version} explore, plotly.js {plotly_version}">
<link rel="icon" href="data:,">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<header>
<h1>{title}</h1>
<p class="summary">{summary}</p>
</header>
<main>
<div id="{div}"></div>
<aside>
<form id="search-form" role="search">
<label for="search" class="tag">Find a word</label>
<input id="search" type="search" list="embedcli-words" autocomplete="off" spellcheck="false"
 placeholder="a word on the map">
<button type="submit">Find</button>
</form>
<p id="search-status" role="status"></p>
<section id="neighbours">
<h2 id="neighbours-title">Click a word</h2>
<p class="note" id="neighbours-note">Its nearest neighbours are looked up in the full space,
before the map was drawn, not read off this picture.</p>
<ol id="neighbours-list"></ol>
</section>
{analogies}
<p class="note">{about}</p>
<p class="note">Made by embedcli explore; this file works offline.</p>
</aside>
</main>
<datalist id="embedcli-words">{options}</datalist>
<script type="application/json" id="embedcli-data">{data}</script>
<script>{plotly}</script>
<script>{script}</script>
</body>
</html>
"""

# The page's own behaviour: the search box, and what a click shows. Everything a word
# holds is put into the page as text (textContent), never as HTML.
_SCRIPT = r"""
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("embedcli-data").textContent);
  var gd = document.getElementById(D.div);
  var fig = D.figure;
  var traces = fig.data.length, LIT = traces - 2, CHOSEN = traces - 1;
  var three = D.dims === 3;
  var labelled = {};
  D.labelled.forEach(function (k) { labelled[k] = true; });
  var lower = {};
  for (var k = D.n - 1; k >= 0; k--) { lower[D.words[k].toLowerCase()] = k; }
  var exact = {};
  for (k = 0; k < D.words.length; k++) { if (!(D.words[k] in exact)) exact[D.words[k]] = k; }
  function esc(s) { return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"); }
  function spread(rows) {
    var out = {x: [], y: [], text: [], customdata: []};
    if (three) out.z = [];
    rows.forEach(function (r) {
      out.x.push(D.coords[r][0]); out.y.push(D.coords[r][1]);
      if (three) out.z.push(D.coords[r][2]);
      out.text.push(labelled[r] ? "" : esc(D.words[r])); out.customdata.push(r);
    });
    return out;
  }
  function restyle(trace, rows) {
    var s = spread(rows), update = {};
    s.hovertext = rows.map(function (r) { return esc(D.words[r]); });
    Object.keys(s).forEach(function (key) { update[key] = [s[key]]; });
    return Plotly.restyle(gd, update, [trace]);
  }
  var title = document.getElementById("neighbours-title");
  var note = document.getElementById("neighbours-note");
  var list = document.getElementById("neighbours-list");
  var status = document.getElementById("search-status");
  function say(text, missing) {
    status.textContent = text;
    status.className = missing ? "missing" : "";
  }
  function select(k) {
    var rows = D.neighbours[k], cos = D.cosines[k];
    var here = rows.filter(function (r) { return r < D.n; });
    title.textContent = "Nearest neighbours of " + D.words[k];
    note.textContent = "The " + rows.length + " nearest of all " +
      D.vocabulary.toLocaleString("en") + " words of " + D.model + ", by cosine in the full " +
      D.dim + "-dimensional space (as embedcli neighbors " + D.words[k] + "), computed " +
      "before drawing: not distances in this picture. " + here.length + " of them are on " +
      "the map, lit up in orange.";
    list.textContent = "";
    rows.forEach(function (r, i) {
      var li = document.createElement("li");
      li.className = "hit" + (r < D.n ? "" : " away");
      li.dataset.word = D.words[r];
      var rank = document.createElement("span"); rank.className = "rank";
      rank.textContent = (i + 1) + ".";
      var word = document.createElement("span"); word.className = "word";
      if (r < D.n) {
        var b = document.createElement("button"); b.type = "button";
        b.textContent = D.words[r];
        b.addEventListener("click", function () { centre(r); select(r); });
        word.appendChild(b);
      } else {
        word.textContent = D.words[r] + " ";
        var tag = document.createElement("span"); tag.className = "tag";
        tag.textContent = "(not on the map)"; word.appendChild(tag);
      }
      var score = document.createElement("span"); score.className = "score";
      score.textContent = cos[i].toFixed(4);
      li.appendChild(rank); li.appendChild(word); li.appendChild(score);
      list.appendChild(li);
    });
    gd.dataset.selected = D.words[k];
    return restyle(LIT, here).then(function () { return restyle(CHOSEN, [k]); });
  }
  var full = null;
  function centre(k) {
    var p = D.coords[k];
    if (three) {
      var scene = gd._fullLayout.scene, c = {}, axes = ["xaxis", "yaxis", "zaxis"];
      var ratio = scene.aspectratio || {x: 1, y: 1, z: 1};
      axes.forEach(function (a, i) {
        var r = scene[a].range, key = "xyz"[i];
        c[key] = ((p[i] - (r[0] + r[1]) / 2) / (r[1] - r[0])) * ratio[key];
      });
      var eye = {x: c.x + 0.6, y: c.y + 0.6, z: c.z + 0.6};
      return Plotly.relayout(gd, {"scene.camera.center": c, "scene.camera.eye": eye});
    }
    var xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    if (full === null) full = [xa.range[1] - xa.range[0], ya.range[1] - ya.range[0]];
    var sx = Math.min(xa.range[1] - xa.range[0], full[0] / 4);
    var sy = Math.min(ya.range[1] - ya.range[0], full[1] / 4);
    return Plotly.relayout(gd, {"xaxis.range": [p[0] - sx / 2, p[0] + sx / 2],
                                "yaxis.range": [p[1] - sy / 2, p[1] + sy / 2]});
  }
  function find(text) {
    var q = text.trim();
    if (!q) { say("", false); return null; }
    var k = exact[q];
    if (k === undefined || k >= D.n) k = lower[q.toLowerCase()];
    if (k === undefined) {
      var ql = q.toLowerCase();
      for (var j = 0; j < D.n; j++) {
        if (D.words[j].toLowerCase().indexOf(ql) === 0) { k = j; break; }
      }
    }
    if (k === undefined) {
      var listed = exact[q] !== undefined;
      say("\u201c" + q + "\u201d is not on this map" + (listed ?
        " (it is among the neighbours listed for some word)." : "."), true);
      return null;
    }
    say("Found \u201c" + D.words[k] + "\u201d" + (D.words[k] === q ? "" :
      " for \u201c" + q + "\u201d") + ", centred on the map.", false);
    return centre(k).then(function () { return select(k); });
  }
  Plotly.newPlot(gd, fig.data, fig.layout, D.config).then(function () {
    gd.on("plotly_click", function (ev) {
      if (!ev || !ev.points || !ev.points.length) return;
      var k = ev.points[0].customdata;
      if (typeof k === "number") select(k);
    });
    document.getElementById("search-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      find(document.getElementById("search").value);
    });
    gd.dataset.ready = "yes";
  });
})();
"""
