"""The picture of `gankit lab` in README.md (docs/images/lab.png), and the lab's start-up time.

Starts `gankit lab --port 0 --no-browser` as a user would, times how long it takes until the page
is served and until the first frame of training is streamed (and the CPU time the lab used by
then, which a busy machine's other jobs change little), then sets up two runs side by side
with the same seed (by default the 25-mode grid, the saturating minimax loss against the
non-saturating one), lets them train to --steps, pauses, and photographs the page with
Debian's headless Chromium (Selenium; apt-get install chromium chromium-driver).

    python -m benchmarks.lab_screenshot                          # docs/images/lab.png
    python -m benchmarks.lab_screenshot --steps 500 --out /tmp/lab.png
    python -m benchmarks.lab_screenshot --startup-only --repeat 5  # only the start-up times
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The two runs of the picture: the 25-mode grid with the saturating minimax loss, and with the
#: non-saturating loss (Goodfellow et al. 2014, §3), the lab's other settings.
RUN_A = {"data": "grid", "loss": "minimax"}
RUN_B = {"data": "grid", "loss": "nonsaturating"}


def start_lab(out: Path) -> tuple[subprocess.Popen, str, int, float]:
    """`gankit lab` on a free port; returns the process, its URL and port, and when it started."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "gankit", "lab", "--port", "0", "--no-browser",
                             "--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"})
    for line in proc.stdout:
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if found:
            return proc, found.group(0), int(found.group(1)), started
    raise SystemExit(f"gankit lab did not start: {proc.wait()}")


def connection(port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=60)


def post(port: int, path: str, body: dict) -> dict:
    conn = connection(port)
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    response = conn.getresponse()
    data = json.loads(response.read())
    if response.status != 200:
        raise SystemExit(f"{path} refused {body}: {data}")
    return data


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) the process has used so far (Linux), None where unknown: on a
    shared machine, what the start costs regardless of the other jobs."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def time_start(port: int, started: float, pid: int) -> dict[str, float | None]:
    """Seconds from the command to the page being served, and to the first streamed frame; the
    lab's CPU seconds by then."""
    while True:
        try:
            conn = connection(port)
            conn.request("GET", "/")
            if conn.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.02)
    page = time.perf_counter() - started
    conn = connection(port)
    conn.request("GET", "/api/events")
    stream = conn.getresponse()
    for raw in stream:
        line = raw.decode()
        if line.startswith("data: ") and any(
                run.get("frame") for run in json.loads(line[6:])["runs"].values()):
            break
    first = time.perf_counter() - started
    cpu = cpu_seconds(pid)
    conn.close()
    return {"page_seconds": round(page, 2), "first_frame_seconds": round(first, 2),
            "first_frame_cpu_seconds": None if cpu is None else round(cpu, 2)}


def browser(width: int, height: int):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        raise SystemExit("needs Debian's chromium and chromium-driver: apt-get install chromium "
                         "chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--hide-scrollbars"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(driver), options=options)


def wait_js(driver, expression: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not driver.execute_script(f"return {expression};"):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {expression}")
        time.sleep(0.5)


def photograph(port: int, url: str, steps: int, width: int, height: int, out: Path) -> None:
    post(port, "/api/command", {"name": "compare", "on": True})
    post(port, "/api/config", {"run": "b", "controls": RUN_B, "seed": 0})
    post(port, "/api/config", {"run": "a", "controls": RUN_A, "seed": 0})
    driver = browser(width, height)
    try:
        driver.get(url)
        wait_js(driver, f"window.gankitLab.runs.b.frame && window.gankitLab.runs.b.frame.step"
                        f" >= {steps}", seconds=3600)
        post(port, "/api/command", {"name": "pause"})
        time.sleep(1.5)
        png = driver.get_screenshot_as_png()
    finally:
        driver.quit()
    from PIL import Image

    out.parent.mkdir(parents=True, exist_ok=True)
    trimmed(Image.open(io.BytesIO(png)).convert("RGB")).quantize(colors=96).save(
        out, optimize=True)


def trimmed(image, margin: int = 12):
    """The picture without the blank window below the page."""
    import numpy as np

    rows = np.flatnonzero((np.asarray(image) < 245).any(axis=(1, 2)))
    bottom = min(image.height, int(rows[-1]) + 1 + margin) if len(rows) else image.height
    return image.crop((0, 0, image.width, bottom))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2000, help="train both runs this far")
    parser.add_argument("--out", type=Path, default=ROOT / "docs/images/lab.png")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1780)
    parser.add_argument("--startup-only", action="store_true", help="time the start, no picture")
    parser.add_argument("--repeat", type=int, default=1, help="start the lab this many times")
    args = parser.parse_args()
    for attempt in range(args.repeat):
        photo = not args.startup_only and attempt == args.repeat - 1
        with tempfile.TemporaryDirectory() as runs:
            proc, url, port, started = start_lab(Path(runs))
            try:
                timing = time_start(port, started, proc.pid)
                cpu = timing["first_frame_cpu_seconds"]
                print(f"start-up: page served after {timing['page_seconds']} s, first frame "
                      f"after {timing['first_frame_seconds']} s having used {cpu} CPU-s (load "
                      f"{os.getloadavg()[0]:.1f})", flush=True)
                if photo:
                    photograph(port, url, args.steps, args.width, args.height, args.out)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    if not args.startup_only:
        print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB): run A {RUN_A}, run B "
              f"{RUN_B}, seed 0, paused at step >= {args.steps}")
    load = os.getloadavg()[0]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load "
          f"{load:.1f}; {time.strftime('%Y-%m-%d')}")


if __name__ == "__main__":
    main()
