"""The report in a real browser: headless Chromium, driven by selenium, opens it from a file://
URL as an acquirer would open a mailed report.

Never skipped: CI installs Debian's chromium and chromium-driver (.ci/run), and a machine without
them fails here with the install command, so a missing browser cannot pass as a green run.
"""

import os
import struct

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from lostcard_cpython import report
from lostcard_cpython.collector_store import SqliteStore
from test_report import NOW, SECRET, SECTION_IDS, build_db

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser():
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        pytest.fail("%s missing: the report's browser test needs Debian's Chromium; install it "
                    "with `apt-get install -y chromium chromium-driver` (.ci/run does)"
                    % ", ".join(missing), pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1280,1600"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _open(browser, tmp_path, fill):
    db = tmp_path / "collector.db"
    if fill:
        build_db(db)
    else:
        SqliteStore(str(db)).close()
    out = tmp_path / "report.html"
    report.write(db, SECRET, out, now=NOW)
    browser.get_log("browser")  # drop what an earlier page logged
    browser.get(out.as_uri())


def _screenshot(browser, path):
    assert browser.save_screenshot(str(path))
    png = path.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    assert width >= 800 and height >= 600
    return png


def _check_page(browser):
    for sid in SECTION_IDS:
        section = browser.find_element(By.ID, sid)
        assert section.is_displayed() and section.size["height"] > 0, sid
    assert browser.execute_script("return document.scripts.length") == 0
    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == []


def test_the_report_renders_in_chromium(browser, tmp_path):
    _open(browser, tmp_path, fill=True)
    png = _screenshot(browser, tmp_path / "report.png")
    assert len(png) > 30_000  # text, tables and colour, not a blank page
    assert browser.title == "Lost-card incidents: acquirer report"
    bars = browser.find_elements(By.CSS_SELECTOR, "#chart svg rect.bar")
    assert bars and all(bar.is_displayed() for bar in bars)
    assert browser.find_element(By.CSS_SELECTOR, "#chart svg > title").get_attribute(
        "textContent") == "Incidents by cause over time"
    _check_page(browser)


def test_an_empty_report_renders_in_chromium(browser, tmp_path):
    _open(browser, tmp_path, fill=False)
    _screenshot(browser, tmp_path / "empty.png")
    assert "None in this period." in browser.find_element(By.ID, "skimming").text
    _check_page(browser)


# a label drawn in its font on a canvas, and as many private-use code points (no font has them:
# each is the font's missing-glyph box) drawn alike: how many pixels each inks, how many differ;
# then the label's width on the page (in the chart's own units for SVG)
MEASURE = """
const el = arguments[0], style = getComputedStyle(el), text = el.textContent;
const boxes = Array.from(text, (_, n) => String.fromCodePoint(0xE000 + n)).join("");
function ink(s) {
  const canvas = document.createElement("canvas");
  canvas.width = 400; canvas.height = 60;
  const ctx = canvas.getContext("2d");
  ctx.font = style.fontSize + " " + style.fontFamily;
  ctx.fillText(s, 2, 40);
  return ctx.getImageData(0, 0, 400, 60).data.filter((_, n) => n % 4 == 3);
}
const label = ink(text), box = ink(boxes);
return [label.filter(a => a).length, label.filter((a, n) => a != box[n]).length,
        el.getComputedTextLength ? el.getComputedTextLength() : el.getBoundingClientRect().width,
        parseFloat(style.fontSize), Array.from(text).length,
        el.closest("[lang]").getAttribute("lang")];
"""


def test_chinese_labels_render_with_real_glyphs(browser, tmp_path):
    """Each Chinese label is drawn with glyphs, not missing-glyph boxes, and as wide as CJK
    glyphs are (one em each). Without a CJK font (Debian's fonts-noto-cjk, which .ci/run
    installs) the label's pixels are the boxes' pixels."""
    _open(browser, tmp_path, fill=True)
    labels = browser.find_elements(By.CSS_SELECTOR, '#summary td span[lang="zh"]') \
        + browser.find_elements(By.CSS_SELECTOR, '#chart svg text[lang="zh"]')
    assert len(labels) >= 12  # the causes' names in the table and the chart's legend
    for label in labels:
        inked, differ, width, size, chars, lang = browser.execute_script(MEASURE, label)
        assert lang == "zh" and chars >= 4
        assert inked > 0 and differ > 0.3 * inked, (label.text, inked, differ)
        assert abs(width - chars * size) <= 0.1 * width, (label.text, width, chars, size)
    _check_page(browser)
