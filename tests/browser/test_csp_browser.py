"""The Content-Security-Policy holds on every kind of page: no inline script, handler or style
element is left for the browser to block, and the pages still work under it."""

import pytest

from arena import services
from arena.models import Arena
from inference.models import ModelEndpoint
from tests.test_campaign_fixtures import add_role, make_campaign

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Recorded before any page script runs; a blocked inline script or style fires this event.
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
    e => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


def test_pages_run_under_the_policy_with_no_violation(strict_page, live_server, make_user):
    page = strict_page
    admin = add_role(
        make_user("csp-admin", password="correct-horse-battery", is_staff=True, is_superuser=True), "admin"
    )
    make_campaign(admin, slug="csp", n_items=2)
    arena = Arena.objects.create(name="CSP arena", slug="csp", sample_prompts=["Say hello."])
    arena.endpoints.add(*[ModelEndpoint.objects.create(name=f"csp-m{i}", path="/nowhere") for i in range(2)])
    battle = services.start_battle(arena, admin, "Say hello.")  # no worker: its answers stay pending (polled)
    page.add_init_script(WATCH)

    page.goto(f"{live_server.url}/accounts/login/")
    csp = page.evaluate("() => fetch(location.href).then(r => r.headers.get('content-security-policy'))")
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    page.fill("input[name=username]", "csp-admin")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url("**/arena/")

    violations = {}
    for path, ready in [
        ("/arena/", "#prompt"),
        (f"/arena/b/{battle.public_id}/", "#battle"),
        ("/arena/leaderboard/", "main"),
        ("/campaigns/", "main"),
        ("/campaigns/csp/", ".rank-widget, #item"),  # annotate.js builds the ranking widget
        ("/campaigns/csp/dashboard/", "main"),
        ("/campaigns/csp/import/", "form"),
        ("/campaigns/csp/mine/", "main"),
        ("/campaigns/new/", "form"),
        ("/export/", "#export-form"),
        ("/accounts/tokens/", "#api-token"),
        ("/accounts/password_reset/", "form"),
        ("/admin/", "#content"),
        ("/admin/annotation/campaign/add/", "#content"),
        ("/api/docs/", ".swagger-ui .info"),  # Swagger UI renders only if its script ran
    ]:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_selector(ready, timeout=20_000)
        page.wait_for_timeout(300)
        found = page.evaluate("window.__csp")
        if found:
            violations[path] = found
    assert not violations, f"Content-Security-Policy violations: {violations}"
