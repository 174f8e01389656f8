import os
import shutil
import tempfile

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def playwright_driver():
    """Playwright's sync API, once per session (Playwright cannot download browsers here)."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}; the test command installs it (apt-get install chromium)."
        )
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests
    # make between page actions are still plain synchronous calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        yield playwright


def _chromium(playwright, **options):
    """Debian's Chromium in a fresh profile; returns (context, profile dir)."""
    profile = tempfile.mkdtemp(prefix="prefarena-chromium-")
    context = playwright.chromium.launch_persistent_context(
        profile,
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        headless=True,
        viewport={"width": 1280, "height": 900},
        **options,
    )
    return context, profile


@pytest.fixture(scope="session")
def browser(playwright_driver):
    # bypass_csp: Playwright's wait_for_function evaluates its predicate from a string inside the
    # page, which our Content-Security-Policy rightly forbids. The policy itself is checked in a
    # browser of its own (strict_page, tests/browser/test_csp_browser.py).
    context, profile = _chromium(playwright_driver, bypass_csp=True)
    yield context
    context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def strict_page(playwright_driver):
    """A page in a browser that enforces the Content-Security-Policy."""
    context, profile = _chromium(playwright_driver)
    yield context.new_page()
    context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser):
    page = browser.new_page()
    yield page
    page.close()


def no_names(html):
    """Fail when a page shown before the vote names a model or provider."""
    from tests.conftest import leaked_model_names

    leaked = leaked_model_names(html)
    assert not leaked, f"model identity leaked before the vote: {leaked}"


def log_in(page, live_server, username, password):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def start_battle(page, live_server, slug, prompt, username=None, password=None):
    """(Log in and) open the arena, type the prompt and send it with Ctrl+Enter; waits for the battle page."""
    if username:
        log_in(page, live_server, username, password)
    page.goto(f"{live_server.url}/arena/{slug}/")
    page.fill("#prompt", prompt)
    page.keyboard.press("Control+Enter")
    page.wait_for_url("**/arena/b/**")
