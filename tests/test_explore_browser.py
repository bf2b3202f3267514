"""embedcli explore's pages in a real browser: Debian's headless Chromium, driven by
selenium through chromium-driver, with the network blocked and every request recorded.

The pages are written by the real command (``embedcli explore`` in a subprocess), and the
neighbours a click shows are compared with what the real ``embedcli neighbors`` prints.
On a machine without the browser the module is skipped, with one line saying why;
``.ci/run`` installs it (apt-get install chromium chromium-driver).
"""

from __future__ import annotations

import html
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not (os.access(CHROMIUM, os.X_OK) and os.access(DRIVER, os.X_OK)):
    pytest.skip("headless Chromium is not installed (apt-get install chromium chromium-driver); "
                "the browser tests of explore's pages need it", allow_module_level=True)
pytest.importorskip("selenium", reason="selenium is not installed (pip install '.[test]')")
pytest.importorskip("plotly")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio",
         "--enable-unsafe-swiftshader",  # WebGL (the 3-D map) in software, without a GPU
         # no way out: every name resolves to nothing and every request goes to a dead proxy
         "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
         "--window-size=1280,860"]
WORDS = ["king", "queen", "frog"]
GROUP = ("fruit", ["apple", "banana", "cherry"])
FREQUENT = 400
NEIGHBOURS = 4


def embedcli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "embedcli", *args], capture_output=True,
                          text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def env(bundled, session_cache, tmp_path_factory) -> dict[str, str]:
    return {**os.environ, "EMBEDCLI_CACHE_DIR": str(session_cache),
            "EMBEDCLI_CONFIG_DIR": str(tmp_path_factory.mktemp("config")), "NO_COLOR": "1"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pages")


@pytest.fixture(scope="module")
def lesson(env, folder) -> Path:
    out = folder / "lesson.html"
    result = embedcli("explore", *WORDS, "--neighbors", str(NEIGHBOURS), "--frequent",
                      str(FREQUENT), "--group", f"{GROUP[0]}: {' '.join(GROUP[1])}",
                      "--analogy", "man:king::woman:queen", "--out", str(out), env=env)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="embedcli-chromium-")
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    # the browser's own files (crash reports, dconf) in the profile, not in the home
    home = {"HOME": profile, "XDG_CONFIG_HOME": os.path.join(profile, "config"),
            "XDG_CACHE_HOME": os.path.join(profile, "cache")}
    driver = webdriver.Chrome(service=Service(DRIVER, env={**os.environ, **home}),
                              options=options)
    driver.set_page_load_timeout(60)
    try:
        # block the network for the page too, on top of the dead proxy
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0})
        driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["http://*", "https://*",
                                                                   "ws://*", "wss://*",
                                                                   "ftp://*"]})
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def requests(driver) -> list[dict]:
    """The requests recorded since the last call (Network.requestWillBeSent events)."""
    out = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            out.append(message["params"])
    return out


def open_page(driver, path: Path) -> list[dict]:
    """Open a page and wait until the map is drawn; the requests made while it loaded and
    drew."""
    requests(driver)  # forget what came before (the browser's own start page)
    driver.get(path.as_uri())
    for _ in range(300):
        if driver.execute_script(
                "var g = document.getElementById('embedcli-map');"
                "return g && g.dataset.ready === 'yes'"):
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the map of {path.name} was never drawn: {driver.get_log('browser')}")
    time.sleep(0.3)
    return requests(driver)


def page_data(driver) -> dict:
    return driver.execute_script(
        "return JSON.parse(document.getElementById('embedcli-data').textContent)")


def search(driver, text: str) -> str:
    box = driver.find_element(By.ID, "search")
    box.clear()
    box.send_keys(text, Keys.ENTER)
    time.sleep(0.6)
    return driver.find_element(By.ID, "search-status").text


def plot_centre(driver) -> tuple[float, float]:
    """The centre of the plot area, in the window's CSS pixels."""
    return tuple(driver.execute_script(
        "var g = document.getElementById('embedcli-map'), s = g._fullLayout._size,"
        " b = g.getBoundingClientRect();"
        "return [b.left + s.l + s.w / 2, b.top + s.t + s.h / 2];"))


def point_at(driver, x: float, y: float) -> ActionChains:
    body = driver.find_element(By.TAG_NAME, "body")
    rect = body.rect
    return ActionChains(driver).move_to_element_with_offset(
        body, int(round(x - rect["x"] - rect["width"] / 2)),
        int(round(y - rect["y"] - rect["height"] / 2)))


def listed(driver) -> list[tuple[str, str]]:
    rows = driver.find_elements(By.CSS_SELECTOR, "#neighbours-list li")
    return [(row.get_attribute("data-word"), row.find_element(By.CLASS_NAME, "score").text)
            for row in rows]


def neighbors_command(word: str, env: dict[str, str]) -> list[tuple[str, str]]:
    result = embedcli("neighbors", word, "--format", "tsv", env=env)
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()[1:]]
    return [(r[1], f"{float(r[2]):.4f}") for r in rows if r[3] == "false"]


# --------------------------------------------------------------------------- the tests


def test_the_page_makes_no_network_request(browser, lesson):
    made = open_page(browser, lesson)
    urls = [r["request"]["url"] for r in made]
    assert urls == [lesson.as_uri()], urls
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors


def test_every_word_is_on_the_page(browser, lesson, env):
    open_page(browser, lesson)
    expected = list(WORDS)
    for word in WORDS:
        result = embedcli("neighbors", word, "--top", str(NEIGHBOURS), "--format", "plain",
                          env=env)
        expected += result.stdout.split()
    expected += GROUP[1] + ["man", "woman"]
    vocab = embedcli("vocab", "--top", str(FREQUENT + 100), env=env).stdout.splitlines()
    expected += [w for w in vocab if any(c.isalnum() for c in w)][:FREQUENT]
    options = browser.execute_script(
        "return Array.from(document.querySelectorAll('#embedcli-words option'), o => o.value)")
    assert sorted(options) == sorted(set(expected))
    drawn = browser.execute_script(
        "var g = document.getElementById('embedcli-map'), out = [];"
        "g.data.slice(0, -2).forEach(t => (t.text || []).forEach(w => out.push(w)));"
        "return out;")
    assert sorted(html.unescape(w) for w in drawn) == sorted(set(expected))
    labels = set(browser.execute_script(
        "return Array.from(document.querySelectorAll('.textpoint text'), t => t.textContent)"))
    assert set(WORDS) | set(GROUP[1]) <= labels  # the words asked for are labelled
    legend = browser.find_element(By.CLASS_NAME, "legend").text
    assert f"{GROUP[0]} (3 words)" in legend


def test_the_axes_say_how_much_variance_they_keep(browser, lesson):
    open_page(browser, lesson)
    titles = browser.execute_script(
        "return Array.from(document.querySelectorAll('.xtitle, .ytitle'), t => t.textContent)")
    assert len(titles) == 2 and all("% of the variance" in t for t in titles), titles
    assert "of the variance" in browser.find_element(By.CLASS_NAME, "summary").text


def test_the_search_box_finds_and_centres_a_word(browser, lesson):
    open_page(browser, lesson)
    data = page_data(browser)
    for typed, word in [("frog", "frog"), ("BANANA", "banana"), ("th", "the")]:
        status = search(browser, typed)
        assert status.startswith(f"Found \u201c{word}\u201d"), status
        x, y = data["coords"][data["words"].index(word)]
        ranges = browser.execute_script(
            "var l = document.getElementById('embedcli-map')._fullLayout;"
            "return [l.xaxis.range, l.yaxis.range];")
        assert sum(ranges[0]) / 2 == pytest.approx(x, abs=1e-6)
        assert sum(ranges[1]) / 2 == pytest.approx(y, abs=1e-6)
        assert browser.find_element(By.ID, "neighbours-title").text == \
            f"Nearest neighbours of {word}"
    status = search(browser, "zzzqqq")
    assert status == "\u201czzzqqq\u201d is not on this map."
    assert "missing" in browser.find_element(By.ID, "search-status").get_attribute("class")


@pytest.mark.parametrize("word", ["frog", "government"])  # a word given, a frequent one
def test_clicking_a_word_lists_its_neighbours_as_embedcli_neighbors_does(browser, lesson, env,
                                                                         word):
    open_page(browser, lesson)
    search(browser, word)  # the word is now at the centre of the plot
    browser.execute_script("document.getElementById('embedcli-map').dataset.selected = '';"
                           "document.getElementById('neighbours-list').textContent = '';")
    x, y = plot_centre(browser)
    point_at(browser, x, y).pause(0.4).perform()
    hover = browser.execute_script(
        "return Array.from(document.querySelectorAll('.hoverlayer text'), t => t.textContent)")
    assert word in hover  # hovering shows the word
    point_at(browser, x, y).click().perform()
    time.sleep(0.6)
    assert browser.execute_script(
        "return document.getElementById('embedcli-map').dataset.selected") == word
    assert listed(browser) == neighbors_command(word, env)
    note = browser.find_element(By.ID, "neighbours-note").text
    assert "full 50-dimensional space" in note and "not distances in this picture" in note
    data = page_data(browser)
    near = [data["words"][r] for r in data["neighbours"][data["words"].index(word)]]
    lit = browser.execute_script(
        "var g = document.getElementById('embedcli-map');"
        "return g.data[g.data.length - 2].hovertext")
    assert [html.unescape(w) for w in lit] == [w for w in near if w in data["words"][:data["n"]]]


def test_zoom_and_pan(browser, lesson):
    open_page(browser, lesson)
    before = browser.execute_script(
        "return document.getElementById('embedcli-map')._fullLayout.xaxis.range.slice()")
    x, y = plot_centre(browser)
    point_at(browser, x, y).click_and_hold().move_by_offset(120, 0).release().perform()
    time.sleep(0.5)
    after = browser.execute_script(
        "return document.getElementById('embedcli-map')._fullLayout.xaxis.range.slice()")
    assert after[0] < before[0] and after[1] - after[0] == pytest.approx(before[1] - before[0])
    assert browser.execute_script(
        "return document.getElementById('embedcli-map')._context.scrollZoom") is True


def test_the_analogy_is_drawn_with_the_cosine_of_its_offsets(browser, lesson):
    open_page(browser, lesson)
    arrows = browser.execute_script(
        "return document.querySelectorAll('.annotation-arrow-g').length")
    assert arrows == 2
    data = page_data(browser)
    cosine = data["analogies"][0]["cosine"]
    assert f"{cosine:.4f}" in browser.find_element(By.ID, "analogies").text
    notes = browser.execute_script(
        "return Array.from(document.querySelectorAll('.annotation-text'), t => t.textContent)")
    assert f"offsets' cosine {cosine:.2f}" in notes


def _pixels(png: bytes):
    import matplotlib.image
    import numpy as np

    image = matplotlib.image.imread(io.BytesIO(png), format="png")
    rgb = (np.asarray(image)[..., :3] * 255).astype(np.uint8)
    return rgb


def test_a_screenshot_is_not_blank(browser, lesson, folder):
    import numpy as np

    open_page(browser, lesson)
    search(browser, "frog")
    png = browser.get_screenshot_as_png()
    (folder / "lesson.png").write_bytes(png)
    rgb = _pixels(png)
    colours = np.unique(rgb.reshape(-1, 3), axis=0)
    assert len(colours) > 100, len(colours)
    assert (rgb.min(axis=2) < 200).mean() > 0.02  # ink, not an empty white page


def test_a_3d_map(browser, env, folder):
    out = folder / "map3d.html"
    result = embedcli("explore", "frog", "--3d", "--frequent", "150", "--analogy",
                      "man:king::woman:?", "--out", str(out), env=env)
    assert result.returncode == 0, result.stderr
    made = open_page(browser, out)
    assert [r["request"]["url"] for r in made] == [out.as_uri()]
    assert browser.execute_script(
        "return !!document.getElementById('embedcli-map')._fullLayout.scene")
    status = search(browser, "frog")
    assert status.startswith("Found \u201cfrog\u201d")
    assert listed(browser) == neighbors_command("frog", env)
    import numpy as np

    rgb = _pixels(browser.get_screenshot_as_png())
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 100


def test_words_that_look_like_html_stay_text(browser, env, folder):
    import numpy as np

    from tests.conftest import write_small_model

    words = ['<img src="x" onerror="window.pwned=1">', "<b>bold</b>", "&amp;", "plain",
             "</script>", "tom's"]
    model = write_small_model(folder / "hostile.txt", words,
                              np.random.default_rng(1).normal(size=(len(words), 6)))
    listing = folder / "hostile-words.txt"
    listing.write_text("".join(w + "\n" for w in words), "utf-8")
    out = folder / "hostile.html"
    result = embedcli("explore", "--model", str(model), "--words-file", str(listing),
                      "--frequent", "0", "-n", "3", "--out", str(out), env=env)
    assert result.returncode == 0, result.stderr
    made = open_page(browser, out)
    assert [r["request"]["url"] for r in made] == [out.as_uri()]  # no image was loaded
    assert browser.execute_script("return window.pwned === undefined")
    assert search(browser, "<b>bold</b>").startswith("Found \u201c<b>bold</b>\u201d")
    assert browser.find_element(By.ID, "neighbours-title").text == \
        "Nearest neighbours of <b>bold</b>"
    assert {w for w, _ in listed(browser)} <= set(words)
    labels = set(browser.execute_script(
        "return Array.from(document.querySelectorAll('.textpoint text'), t => t.textContent)"))
    assert set(words) <= labels
