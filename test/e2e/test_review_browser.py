"""The review page in a real browser: Debian's Chromium, driven by Selenium through Debian's
chromedriver (nothing downloads a browser). A short day run keeps its gateway up
(``--keep-gateway``); the browser logs in with the run's token, sees the run's detections,
marks one event wrong, and the Camtrap DP export carries that verdict as a human
observation."""

from __future__ import annotations

import contextlib
import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.graph

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)


def _browser_missing() -> str:
    if CHROMIUM is None or CHROMEDRIVER is None:
        return (
            "Debian's chromium and chromium-driver are not installed (make test installs "
            "them with apt-get when it runs as root)"
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed in the venv (requirements.lock)"
    return ""


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(
        options=options,
        service=Service(
            executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log")
        ),
    )
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(predicate: Any, timeout_s: float, what: str) -> Any:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.skipif(bool(_browser_missing()), reason=_browser_missing() or "ok")
def test_review_in_a_real_browser(ros_env: dict[str, str], tmp_path: Path, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    out = tmp_path / "out"
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        run = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wildcam.cli",
                "run",
                "--day-length",
                "120",
                "--duration",
                "50",
                "--speed",
                "3",
                "--out",
                str(out),
                "--keep-gateway",
            ],
            env=ros_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its kept gateway is stopped with it, as by Ctrl-C
        )
    try:

        def serving() -> re.Match[str] | None:
            assert run.poll() is None, log_path.read_text(errors="replace")
            return re.search(
                r"review page: (\S+) \(token in (\S+)\); the gateway keeps",
                log_path.read_text(errors="replace"),
            )

        found = _wait(serving, 300.0, "the day run to finish and keep its gateway")
        url, token = found.group(1), Path(found.group(2)).read_text().strip()

        browser.get(url)
        assert browser.current_url.endswith("/review/login")
        browser.find_element(By.ID, "token").send_keys(token)
        browser.find_element(By.ID, "name").send_keys("Test Reviewer")
        browser.find_element(By.ID, "login").click()
        _wait(lambda: browser.find_elements(By.CSS_SELECTOR, ".event"), 30.0, "the events")
        events = browser.find_elements(By.CSS_SELECTOR, ".event")
        assert events, browser.page_source
        assert browser.find_element(By.ID, "devices").find_elements(By.TAG_NAME, "tr")[1:]
        image = events[0].find_element(By.TAG_NAME, "img")
        _wait(
            lambda: browser.execute_script(
                "return arguments[0].complete && arguments[0].naturalWidth > 0", image
            ),
            10.0,
            "the event's image to load",
        )
        assert events[0].find_elements(By.CSS_SELECTOR, ".box"), "no box drawn"
        device = events[0].get_attribute("data-device")
        event = events[0].get_attribute("data-event")
        events[0].find_element(By.CSS_SELECTOR, "button[value='wrong']").click()
        _wait(lambda: "verdict: wrong" in browser.page_source, 30.0, "the verdict on the page")

        package = tmp_path / "dp"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "wildcam.cli",
                "gateway",
                "--store",
                str(out / "gateway"),
                "export",
                "--camtrap-dp",
                str(package),
                "--location",
                "0,0",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=ros_env,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        with (package / "observations.csv").open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        human = [r for r in rows if r["observationID"] == f"{device}-{event}"]
        assert len(human) == 1, rows
        assert human[0]["classificationMethod"] == "human"
        assert human[0]["observationType"] == "blank"
        assert human[0]["classifiedBy"] == "Test Reviewer"
        assert (out / "camtrap-dp" / "datapackage.json").is_file()
        assert (out / "detections.json").is_file()
    finally:
        # the whole group, as a terminal's Ctrl-C: a run killed alone would orphan its gateway
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGINT)
            try:
                run.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(run.pid, signal.SIGKILL)
                run.wait()
