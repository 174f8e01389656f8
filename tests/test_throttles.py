"""Rate limits: per user and per client address, on the API and on the pages that write; over the
limit a 429 with Retry-After. The test settings raise every rate; these tests set low ones."""

import random

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def rates(**low):
    high = {scope: "100000/min" for scope in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}
    return override_settings(
        REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**high, **low}}
    )


@pytest.fixture
def address():
    """A fresh client address per test: the counts live in the shared cache and outlive a test."""
    return "10.{}.{}.{}".format(*(random.randint(1, 254) for _ in range(3)))


def _api(user, address):
    client = APIClient(REMOTE_ADDR=address)
    client.force_authenticate(user)
    return client


def test_battle_starts_per_user_answer_429_with_retry_after(make_user, address):
    voter, other = make_user("fast-voter"), make_user("other-voter")
    with rates(battles="2/min"):
        api = _api(voter, address)
        codes = [api.post("/api/battles/", {"prompt": "hi"}, format="json").status_code for _ in range(3)]
        assert codes[:2] == [404, 404]  # no arena here: let through, then refused for that
        refused = api.post("/api/battles/", {"prompt": "hi"}, format="json")
        assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 60
        assert "throttled" in refused.json()["detail"].lower()
        # another voter at another address is not held back by the first one's count
        assert (
            _api(other, address + "1").post("/api/battles/", {"prompt": "hi"}, format="json").status_code
            == 404
        )
        # reads do not count against the write scope
        assert all(api.get("/api/battles/nope/").status_code == 404 for _ in range(3))


def test_one_address_shares_a_limit_across_accounts(make_user, address):
    with rates(votes_ip="2/min"):
        codes = [
            _api(make_user(f"sock-{i}"), address)
            .post("/api/battles/x/vote/", {"choice": "a"}, format="json")
            .status_code
            for i in range(3)
        ]
        assert codes == [404, 404, 429]
        # X-Forwarded-For is not trusted without NUM_PROXIES: a client cannot choose its address
        spoofed = _api(make_user("sock-x"), address)
        assert (
            spoofed.post(
                "/api/battles/x/vote/", {"choice": "a"}, format="json", HTTP_X_FORWARDED_FOR="203.0.113.9"
            ).status_code
            == 429
        )


def test_exports_and_imports_are_limited(make_user, address):
    from tests.test_campaign_fixtures import add_role

    researcher = add_role(make_user("busy-researcher"), "researcher")
    with rates(exports="1/hour", imports="1/hour"):
        api = _api(researcher, address)
        assert api.post("/api/exports/", {"format": "nope"}, format="json").status_code == 400
        assert api.post("/api/exports/", {"format": "nope"}, format="json").status_code == 429
        assert api.get("/api/exports/").status_code == 200  # listing is not starting one
        assert api.post("/api/campaigns/x/import/", {}, format="multipart").status_code == 404
        assert int(api.post("/api/campaigns/x/import/", {}, format="multipart")["Retry-After"]) > 60


def test_pages_are_limited_too(client, make_user, address):
    client.defaults["REMOTE_ADDR"] = address
    client.force_login(make_user("page-voter"))
    with rates(votes="2/min"):
        assert [client.post("/arena/b/x/vote/", {"choice": "a"}).status_code for _ in range(2)] == [404, 404]
        page = client.post("/arena/b/x/vote/", {"choice": "a"})
        assert page.status_code == 429 and page["Retry-After"] and b"Too many requests" in page.content
        fragment = client.post("/arena/b/x/vote/", {"choice": "a"}, HTTP_HX_REQUEST="true")
        assert fragment.status_code == 429 and fragment["HX-Retarget"] == "#page-message"


def test_password_guessing_is_limited_per_address(client, make_user, address):
    make_user("victim")
    client.defaults["REMOTE_ADDR"] = address
    with rates(logins_ip="3/min"):
        codes = [
            client.post("/accounts/login/", {"username": "victim", "password": f"guess{i}"}).status_code
            for i in range(4)
        ]
        assert codes == [200, 200, 200, 429]


def test_every_limit_of_a_request_is_one_sorted_set_window_in_redis(make_user, address):
    """RateLimits counts in Redis (one pipeline a request), not through the generic cache fallback."""
    from django.core.cache import caches

    voter = make_user("window-voter")
    with rates(votes="5/min"):
        assert (
            _api(voter, address).post("/api/battles/x/vote/", {"choice": "a"}, format="json").status_code
            == 404
        )
    backend = caches["default"]
    client = backend._cache.get_client()
    for key in (f"ratelimit:votes:{voter.pk}", f"ratelimit:votes_ip:{address}", f"ratelimit:user:{voter.pk}"):
        assert client.type(backend.make_and_validate_key(key)) == b"zset"
