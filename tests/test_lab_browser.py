"""gankit lab end to end: a real `gankit lab` process on a free port, driven by headless Chromium
(Debian's chromium and chromium-driver, through Selenium; no browser is downloaded).

Without the Debian packages the browser tests skip with the reason; the refusal of foreign
requests is checked against the real server either way.
"""

from __future__ import annotations

import http.client
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the lab needs the extra gankit[lab]")
pytest.importorskip("uvicorn", reason="the lab needs the extra gankit[lab]")

START_SECONDS = 60  # generous: the test machines are shared and may be busy


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A running `gankit lab --port 0 --no-browser`; yields (url, port, the saved runs' folder)."""
    out = tmp_path_factory.mktemp("lab-runs")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "gankit", "lab", "--port", "0", "--no-browser",
                             "--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    lines, deadline, url = [], time.monotonic() + START_SECONDS, None
    while url is None and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        url = found and (found.group(0), int(found.group(1)))
    if url is None:
        proc.kill()
        pytest.fail("gankit lab did not start:\n" + "".join(lines))
    yield url[0], url[1], out
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("gankit lab did not stop on Ctrl-C within 20 s")
    output = proc.stdout.read()
    assert proc.returncode in (0, 130) and "Traceback" not in output, output  # 130: Ctrl-C


def request(port: int, method: str, path: str, headers: dict, body: str | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def test_server_refuses_foreign_requests(lab):
    """By default the lab answers only its own page: not another Host (DNS rebinding), not
    another site's Origin."""
    _, port, _ = lab
    own = f"127.0.0.1:{port}"
    assert request(port, "GET", "/", {"Host": own})[0] == 200
    status, text = request(port, "GET", "/", {"Host": "attacker.example"})
    assert status == 403 and "Host 'attacker.example'" in text
    status, text = request(port, "POST", "/api/command",
                           {"Host": own, "Origin": "http://attacker.example",
                            "Content-Type": "application/json"}, '{"name": "pause"}')
    assert status == 403 and "another site" in text
    status, _ = request(port, "GET", "/api/events", {"Host": own, "Sec-Fetch-Site": "cross-site"})
    assert status == 403


# -- the browser -----------------------------------------------------------------------------------
def _browser_paths() -> tuple[str, str]:
    chromium = os.environ.get("GANKIT_CHROMIUM") or shutil.which("chromium")
    driver = os.environ.get("GANKIT_CHROMEDRIVER") or shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("headless browser tests need Debian's chromium and chromium-driver "
                    "(apt-get install chromium chromium-driver; .ci/run installs them)")
    return chromium, driver


@pytest.fixture(scope="module")
def browser(lab):
    chromium, driver_path = _browser_paths()
    webdriver = pytest.importorskip("selenium.webdriver", reason="the browser tests need selenium")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1300,1500", "--no-first-run"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.get(lab[0])
    # each test starts from a page that is up and streaming, whichever test runs first (under
    # pytest-xdist a worker may get any of them) and whatever the one before it left
    wait_js(driver, "document.body.dataset.ready === '1' && window.gankitLab.runs.a.frame",
            seconds=START_SECONDS, what="the page and its first frame")
    yield driver
    driver.quit()


def js(driver, expression: str):
    return driver.execute_script(f"return {expression};")


def wait_js(driver, expression: str, seconds: float = 30, what: str | None = None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = js(driver, expression)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds} s waiting for {what or expression}")


def run_step(driver, run: str = "a"):
    frame = f"window.gankitLab.runs.{run}.frame"
    return js(driver, f"{frame} && {frame}.step")


def change(driver, selector: str, value: str) -> None:
    """Set a control as a person would, then fire its change event."""
    driver.execute_script(
        "const el = document.querySelector(arguments[0]); el.value = arguments[1];"
        "el.dispatchEvent(new Event('change', {bubbles: true}));", selector, value)


def click(driver, selector: str) -> None:
    driver.find_element("css selector", selector).click()


def set_running(driver, on: bool) -> None:
    """Play or pause (the button toggles), then wait until the lab says so."""
    if js(driver, "window.gankitLab.running") != on:
        click(driver, "#play")
    wait_js(driver, f"window.gankitLab.running === {str(on).lower()}",
            what="play" if on else "the pause")


def set_compare(driver, on: bool) -> None:
    """Turn the second run on or off (a checkbox), then wait until the lab says so."""
    if js(driver, "window.gankitLab.compare") != on:
        click(driver, "#compare")
    wait_js(driver, f"window.gankitLab.compare === {str(on).lower()}", what="run B's switch")


def test_page_loads_and_frames_arrive(browser):
    wait_js(browser, "document.body.dataset.ready === '1'", what="the page to start")
    set_running(browser, True)  # the default; a test before this one may have paused
    first = wait_js(browser, "window.gankitLab.frames >= 2 && window.gankitLab.runs.a.frame.step",
                    what="frames")
    wait_js(browser, f"window.gankitLab.runs.a.frame.step > {first}", what="training to go on")
    assert "step" in browser.find_element("id", "status").text
    losses = js(browser, "[...document.querySelector('#run-a select[name=loss]').options]"
                         ".map(o => o.value)")
    assert {"minimax", "nonsaturating", "ml", "wasserstein", "hinge", "least_squares"} <= set(
        losses)
    assert js(browser, "window.gankitLab.runs.a.history.length") >= 1


def test_switching_the_loss_pausing_and_stepping(browser):
    change(browser, "#run-a select[name=loss]", "hinge")
    wait_js(browser, "window.gankitLab.runs.a.controls.loss === 'hinge'", what="the hinge loss")
    wait_js(browser, "document.querySelector('#run-a .shading').textContent.includes('critic')",
            what="the critic's caption")
    set_running(browser, False)
    paused = run_step(browser)
    time.sleep(0.8)
    assert run_step(browser) == paused
    assert browser.find_element("id", "play").text == "run"
    click(browser, "#step")
    wait_js(browser, f"window.gankitLab.runs.a.frame.step === {paused + 1}", what="one step")
    time.sleep(0.5)
    assert run_step(browser) == paused + 1


def test_bad_value_gets_a_message_in_the_page(browser):
    change(browser, "#run-a input[name=k]", "0")
    message = wait_js(browser, "!document.querySelector('#run-a .form-error').hidden && "
                               "document.querySelector('#run-a .form-error').textContent",
                      what="the message")
    assert "k (D steps per G step) must be in [1, 20]" in message
    assert "invalid" in browser.find_element("css selector", "#run-a input[name=k]").get_attribute(
        "class")
    change(browser, "#run-a input[name=k]", "1")  # a good value clears it, the page goes on
    wait_js(browser, "document.querySelector('#run-a .form-error').hidden", what="no message")


def test_two_runs_side_by_side(browser):
    set_running(browser, True)
    set_compare(browser, True)
    wait_js(browser, "!document.getElementById('run-b').hidden", what="run B")
    change(browser, "#run-b input[name=unroll]", "1")  # cheaper than the default K for a test
    wait_js(browser, "window.gankitLab.runs.b.controls.unroll === 1", what="run B's settings")
    wait_js(browser, "window.gankitLab.runs.b.frame && window.gankitLab.runs.b.frame.step > 3 &&"
                     "window.gankitLab.runs.a.frame.step > 3", seconds=60,
            what="both runs training")
    label = browser.find_element("css selector", "#run-b .label").text
    assert "unrolled K=1" in label
    assert js(browser, "window.gankitLab.runs.a.controls.unroll") == 0  # B's settings are B's


def test_save_this_run(browser, lab):
    click(browser, "#run-a .save")
    text = wait_js(browser, "document.querySelector('#run-a .saved').textContent.includes("
                            "'saved step') && document.querySelector('#run-a .saved').textContent",
                   seconds=60, what="the saved run")
    folder = Path(re.search(r"to (\S+) ·", text).group(1))
    assert folder.parent == lab[2] and (folder / "checkpoint.pt").is_file()
    assert (folder / "config.toml").is_file() and (folder / "samples.png").is_file()


def test_screenshot_is_not_blank(browser, tmp_path):
    from PIL import Image

    set_running(browser, True)
    wait_js(browser, "window.gankitLab.runs.a.frame.step > 0", what="a frame")
    image = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
    image.save(tmp_path / "lab.png")
    assert image.width >= 1000 and len(image.getcolors(1 << 24)) > 200
    # the field canvas: D's shading (coloured) and G's samples (dark) are drawn
    pixels = js(browser, "(() => { const c = document.querySelector('#run-a .field');"
                         "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                         "let coloured = 0, dark = 0;"
                         "for (let i = 0; i < d.length; i += 4) {"
                         "  const [r, g, b] = [d[i], d[i + 1], d[i + 2]];"
                         "  if (Math.max(r, g, b) - Math.min(r, g, b) > 20) coloured++;"
                         "  if (r + g + b < 300) dark++; }"
                         "return [coloured / (d.length / 4), dark]; })()")
    assert pixels[0] > 0.2 and pixels[1] > 50
