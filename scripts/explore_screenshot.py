"""Make the README's picture of `embedcli explore`: the tool writes a page, headless
Chromium (Debian's chromium and chromium-driver, driven by selenium) opens it, finds a
word with the search box and clicks it, and saves a screenshot.

    python scripts/explore_screenshot.py            # writes docs/explore-map.png

The page is written to a temporary folder; only the picture is kept.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMAND = ["explore", "frog", "king", "queen", "--group", "fruit: apple banana cherry grape",
           "--group", "tools: hammer saw drill wrench", "--analogy", "man:king::woman:queen",
           "--frequent", "1500"]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
         "--hide-scrollbars", "--force-device-scale-factor=1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "explore-map.png")
    parser.add_argument("--word", default="frog", help="the word to find and click")
    parser.add_argument("--size", default="1200,700", help="the window, in CSS pixels")
    args = parser.parse_args()

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    folder = Path(tempfile.mkdtemp(prefix="embedcli-screenshot-"))
    try:
        page = folder / "map.html"
        subprocess.run([sys.executable, "-m", "embedcli", *COMMAND, "--out", str(page)],
                       check=True)
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for flag in [*FLAGS, f"--window-size={args.size}",
                     f"--user-data-dir={folder / 'profile'}"]:
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or
                                                  "/usr/bin/chromedriver"), options=options)
        try:
            driver.get(page.as_uri())
            for _ in range(300):
                if driver.execute_script(
                        "return document.getElementById('embedcli-map').dataset.ready"):
                    break
                time.sleep(0.1)
            box = driver.find_element(By.ID, "search")
            box.send_keys(args.word, Keys.ENTER)
            time.sleep(0.8)
            # zoom back out a little, so the picture shows the groups and the arrows too
            driver.execute_script(
                "var g = document.getElementById('embedcli-map'), l = g._fullLayout;"
                "function wide(r, f) { var c = (r[0] + r[1]) / 2, h = (r[1] - r[0]) * f / 2;"
                " return [c - h, c + h]; }"
                "return Plotly.relayout(g, {'xaxis.range': wide(l.xaxis.range, 2.2),"
                " 'yaxis.range': wide(l.yaxis.range, 2.2)});")
            time.sleep(0.8)
            x, y = driver.execute_script(
                "var g = document.getElementById('embedcli-map'), s = g._fullLayout._size,"
                " b = g.getBoundingClientRect();"
                "return [b.left + s.l + s.w / 2, b.top + s.t + s.h / 2];")
            body = driver.find_element(By.TAG_NAME, "body")
            rect = body.rect
            ActionChains(driver).move_to_element_with_offset(
                body, int(x - rect["x"] - rect["width"] / 2),
                int(y - rect["y"] - rect["height"] / 2)).click().perform()
            time.sleep(0.8)
            # the mouse away from the map, so that no hover label covers it
            ActionChains(driver).move_to_element(
                driver.find_element(By.ID, "neighbours-title")).perform()
            time.sleep(0.5)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_bytes(driver.get_screenshot_as_png())
        finally:
            driver.quit()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1000:.0f} KB): embedcli "
          f"{' '.join(COMMAND)}")


if __name__ == "__main__":
    main()
