"""The try-it page in headless Chromium: type, submit, see the answer and its latency, for all three panels.

Needs Debian's `chromium` and `chromium-driver` (.ci/run installs them when missing): without them the browser tests
skip, naming what is missing, and fail under CI. Selenium is pointed at those binaries so it never tries to download
a browser or a driver.
"""

from __future__ import annotations

import re
import shutil
import signal
import sys
from pathlib import Path

import pytest
from conftest import require
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from serve_helpers import free_port, make_bundles, start_server, write_bot

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
LATENCY = re.compile(r"server \d+\.\d ms · round trip \d+\.\d ms")


def require_browser() -> None:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    require(not missing, f"{' and '.join(missing)} (apt-get install -y chromium chromium-driver)")


def test_a_missing_browser_skips_and_fails_under_ci(tmp_path, monkeypatch):
    (tmp_path / "chromedriver").touch()  # only the browser is missing, whatever this machine has installed
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setattr(sys.modules[__name__], "CHROMEDRIVER", tmp_path / "chromedriver")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        require_browser()
    assert str(skipped.value) == f"needs {tmp_path / 'no-chromium'} (apt-get install -y chromium chromium-driver)"
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as failed:
        require_browser()
    assert str(failed.value) == f"{skipped.value} (CI=true: a missing requirement fails)"


@pytest.fixture
def browser(tmp_path):
    require_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


@pytest.fixture
def server_url(tmp_path):
    bundles = make_bundles(tmp_path / "bundles", favour_tag="B-PER")
    bot = write_bot(tmp_path / "bot.yaml", threshold=0.99)
    port = free_port()
    args = [f"{name}={path}" for name, path in bundles.items()] + ["--chatbot", str(bot)]
    process = start_server(args, port)
    yield f"http://127.0.0.1:{port}"
    process.send_signal(signal.SIGTERM)
    process.wait(30)


def submit(driver, field_id: str, text: str, button_id: str) -> None:
    field = driver.find_element(By.ID, field_id)
    field.clear()
    field.send_keys(text)
    driver.find_element(By.ID, button_id).click()


def wait_text(driver, element_id: str, pattern: re.Pattern) -> str:
    WebDriverWait(driver, 20).until(lambda d: pattern.search(d.find_element(By.ID, element_id).text))
    return driver.find_element(By.ID, element_id).text


def test_page_sentiment_entities_and_chat(browser, server_url):
    browser.get(server_url + "/")
    assert browser.title == "distilkit serve"
    assert not browser.find_element(By.ID, "auth").is_displayed()  # no token configured, no token field

    submit(browser, "sentiment-text", "a very good film", "sentiment-go")
    assert LATENCY.search(wait_text(browser, "sentiment-latency", LATENCY))
    assert re.fullmatch(r"(negative|positive) \(\d+\.\d%\)", browser.find_element(By.ID, "sentiment-out").text)

    submit(browser, "ner-text", "the actor met <b>a story</b>", "ner-go")
    wait_text(browser, "ner-latency", LATENCY)
    marks = browser.find_elements(By.CSS_SELECTOR, "#ner-out mark")
    # The tagger says B-PER on every token: each token is its own highlighted PER entity, markup shown as text.
    assert [m.get_attribute("data-type") for m in marks] == ["PER"] * len(marks)
    assert marks[0].text.startswith("the") and marks[1].text.startswith("actor") and len(marks) >= 5
    assert browser.find_elements(By.CSS_SELECTOR, "#ner-out b") == []
    shown = browser.execute_script("return document.getElementById('ner-out').textContent")
    assert shown.replace("PER", "") == "the actor met <b>a story</b>"  # the text, entity labels taken out

    submit(browser, "chat-text", "how do i get a refund", "chat-go")
    wait_text(browser, "chat-latency", LATENCY)
    submit(browser, "chat-text", "the actor was not very good but fun", "chat-go")
    log = wait_text(browser, "chat-log", re.compile(r"fallback"))
    lines = [p.text for p in browser.find_elements(By.CSS_SELECTOR, "#chat-log p")]
    assert lines[0] == "how do i get a refund"
    assert lines[1].startswith("Refunds take five days. [refund, score 1.00]")
    assert lines[3].startswith("Sorry, I can only help") and "[fallback" in log
