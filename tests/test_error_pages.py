"""Errors and small things: styled 403/404/500 pages with a way back, a favicon, and a leaderboard that
says when its full refit runs instead of claiming a resample count it does not have yet."""

import pytest
from django.test import override_settings
from django.utils import timezone

from arena.selectors import leaderboard
from ranking.models import RatingSnapshot
from tests.test_campaign_fixtures import add_role

pytestmark = pytest.mark.django_db


@override_settings(DEBUG=False)
def test_export_as_an_annotator_is_a_styled_403_with_a_way_back(client, make_user):
    client.force_login(add_role(make_user("ann"), "annotator"))
    response = client.get("/export/")
    html = response.content.decode()
    assert response.status_code == 403
    assert "Not for your role" in html and "Only researchers and admins may export datasets." in html
    assert 'id="go-back"' in html and 'href="/campaigns/"' in html and "favicon.svg" in html


@override_settings(DEBUG=False)
def test_an_unknown_address_is_a_styled_404(client, make_user):
    client.force_login(make_user("ann"))
    response = client.get("/no-such-page/", HTTP_REFERER="http://testserver/arena/")
    html = response.content.decode()
    assert response.status_code == 404 and "Page not found" in html
    assert '<a class="button primary" href="http://testserver/arena/" id="go-back">' in html


def test_the_500_page_renders_without_a_request():
    from django.template.loader import render_to_string

    html = render_to_string("500.html")
    assert "Something went wrong on our side" in html and 'href="/"' in html


def test_the_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")
    assert client.get(response["Location"]).status_code == 200


def _snapshot(bootstrap, **params):
    return RatingSnapshot.objects.create(
        method="bt", bootstrap=bootstrap, judgment_count=3, rows=[], params=params
    )


@override_settings(RANKING_FULL_BOOTSTRAP=1000)
def test_the_leaderboard_says_when_the_full_refit_will_run():
    _snapshot(100)
    label = leaderboard()["interval_label"]
    assert (
        label
        == "100 bootstrap resamples of a live refit; the full refit with 1,000 resamples runs every 5 minutes"
    )
    full = _snapshot(1000)
    assert (
        leaderboard()["interval_label"]
        == "1,000 bootstrap resamples (full refit), never narrower than the Laplace interval"
    )
    _snapshot(0, interval="laplace")
    next_run = timezone.localtime(full.computed_at + timezone.timedelta(seconds=300))
    assert leaderboard()["interval_label"] == (
        "Laplace (analytic) intervals of a live refit; the full refit with 1,000 resamples runs every 5 minutes, "
        f"next around {next_run:%H:%M}"
    )
