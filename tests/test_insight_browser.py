"""Feedback and Insights in headless Chromium (selenium, as tests/test_web_browser.py): a student asks a course
question, clicks 👎 and says what was wrong; the instructor's link opens the Insights page with that rating,
its charts and links to the PDF pages; a browser without the instructor cookie gets 403. Screenshots go to
test-artifacts/web/."""

from __future__ import annotations

import pytest
from conftest import require_module

require_module("fastapi", "fastapi (the `web` extra)")
require_module("selenium", "selenium (the `dev` extra)")

from test_web_browser import ARTIFACTS, browser, say, shot, wait_for_bot  # noqa: E402,F401  (browser: fixture)

pytestmark = pytest.mark.slow
TOKEN = "browser-instructor-token-0123456789"


@pytest.fixture
def course_server(home):
    from bot.channels.web import create_app
    from bot.cli.serve import BackgroundServer
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load
    from kb import sample

    state = {}

    def factory(url):
        services = Services(load(home=home, backend="local", public_url=url))
        services.kb.ingest([str(p) for p in sample.build(home / "pdfs")])
        state["services"] = services
        return create_app(services, Router(services), instructor_token=TOKEN)

    with BackgroundServer(factory) as url:
        yield url, state["services"]


def test_thumbs_and_the_insights_page_in_a_real_browser(course_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, services = course_server
    d = browser
    d.get(url + "/")
    greeting = wait_for_bot(d, 1)
    assert not greeting.find_elements(By.CSS_SELECTOR, ".feedback")  # the page's own greeting is no answer

    say(d, "What is Amazon Polly used for?")
    answer = wait_for_bot(d, 2)
    up = answer.find_element(By.CSS_SELECTOR, "button[aria-label='Helpful answer']")
    down = answer.find_element(By.CSS_SELECTOR, "button[aria-label='Not helpful answer']")
    assert up.find_element(By.CSS_SELECTOR, ".icon").text == "👍" and down.find_element(By.CSS_SELECTOR, ".icon").text == "👎"
    assert (up.text.split()[-1], down.text.split("👎")[-1].strip()) == ("Helpful", "Not helpful")  # visible words too
    assert up.get_attribute("type") == "button" and up.get_attribute("aria-pressed") == "false"
    why = answer.find_element(By.CSS_SELECTOR, ".feedback-why")
    assert not why.is_displayed()
    down.click()
    WebDriverWait(d, 10).until(lambda _: why.is_displayed())
    assert down.get_attribute("aria-pressed") == "true" and up.get_attribute("aria-pressed") == "false"
    box = why.find_element(By.CSS_SELECTOR, "input[aria-label='What was wrong? (optional)']")
    assert d.switch_to.active_element == box
    box.send_keys("It should mention SSML")
    shot(d, "10-feedback-what-was-wrong")
    why.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    status = answer.find_element(By.CSS_SELECTOR, ".feedback-status")
    WebDriverWait(d, 10).until(lambda _: "noted for your instructor" in status.text)
    assert not why.is_displayed()
    shot(d, "11-feedback-sent")
    [rating] = services.insight.ratings()
    assert (rating.rating, rating.comment) == ("down", "It should mention SSML")
    record = services.insight.get(rating.answer_id)
    assert record.question == "What is Amazon Polly used for?" and record.citations

    say(d, "How do I knit a woolly scarf?")
    wait_for_bot(d, 3)
    errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors  # no CSP violation, no script error

    # the instructor's link: the token becomes a cookie and leaves the address bar
    d.get(f"{url}/insights?token={TOKEN}")
    WebDriverWait(d, 10).until(lambda _: d.find_elements(By.TAG_NAME, "h1"))
    assert d.current_url == url + "/insights" and d.find_element(By.TAG_NAME, "h1").text == "Instructor insights"
    shot(d, "12-insights")
    body = d.find_element(By.TAG_NAME, "main").text
    assert "It should mention SSML" in body and "knit a woolly scarf" in body
    charts = d.find_elements(By.CSS_SELECTOR, "svg.chart")
    assert len(charts) == 2 and all(c.size["width"] > 50 and c.size["height"] > 20 for c in charts)
    assert d.find_elements(By.CSS_SELECTOR, "svg.chart.days rect.bar")
    link = d.find_element(By.LINK_TEXT, "What is Amazon Polly used for?")
    href = link.get_attribute("href")
    assert href.startswith(url + "/files/") and f"#page={record.citations[0][1]}" in href
    assert not [e for e in d.get_log("browser") if e["level"] == "SEVERE"]

    # a student's browser (no instructor cookie) is refused
    d.delete_all_cookies()
    d.get(url + "/insights")
    assert "for the course's instructor" in d.find_element(By.TAG_NAME, "main").text
    assert "SSML" not in d.page_source
    shot(d, "13-insights-refused")
    assert (ARTIFACTS / "12-insights.png").stat().st_size > 10_000
