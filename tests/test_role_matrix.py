"""Every door, for every role: each URL pattern Django's resolver knows (enumerated, not listed by
hand) is requested as anonymous, annotator, researcher and admin (the demo's roles), and must answer
the status in the matrix below. A new URL with no entry here fails the test, so adding a page or an
API operation means deciding who may open it.

Requests carry no useful input: a 400 means "let through the door, then refused for the input",
which is what this test is about. POSTs are sent with an empty body; CSRF is off in the test client
(the CSRF check has tests of its own in Django)."""

import fnmatch
import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import URLPattern, URLResolver, get_resolver, path, resolve
from django.urls.resolvers import RegexPattern
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

ROLES = ("anonymous", "annotator", "researcher", "admin")
LOGIN, ADMIN_LOGIN = "login", "admin-login"  # a redirect to the site's / the admin's sign-in page

# key (namespaced URL name, or the route for unnamed patterns): (method, path, statuses per ROLES)
MATRIX = {
    "": ("GET", "/", (302, 302, 302, 302)),
    "favicon.ico": ("GET", "/favicon.ico", (301, 301, 301, 301)),
    # probes for load balancers and orchestrators: open to all, they reveal only up/ready
    "healthz": ("GET", "/healthz", (200, 200, 200, 200)),
    "readyz": ("GET", "/readyz", (200, 200, 200, 200)),
    # accounts (Django's auth views)
    "login": ("GET", "/accounts/login/", (200, 200, 200, 200)),
    "logout": ("POST", "/accounts/logout/", (LOGIN, LOGIN, LOGIN, LOGIN)),
    "password_change": ("GET", "/accounts/password_change/", (LOGIN, 200, 200, 200)),
    "password_change_done": ("GET", "/accounts/password_change/done/", (LOGIN, 200, 200, 200)),
    "password_reset": ("GET", "/accounts/password_reset/", (200, 200, 200, 200)),
    "password_reset_done": ("GET", "/accounts/password_reset/done/", (200, 200, 200, 200)),
    "password_reset_confirm": ("GET", "/accounts/reset/MQ/bad-token/", (200, 200, 200, 200)),
    "password_reset_complete": ("GET", "/accounts/reset/done/", (200, 200, 200, 200)),
    # sign-up (the world's policy is invitation-only: 403 with the reason without a link), invitation links, your own API token
    "signup": ("GET", "/accounts/signup/", (403, 403, 403, 403)),
    "signup_invited": ("GET", "/accounts/invite/{invitation}/", (200, 200, 200, 200)),
    "api_tokens": ("GET", "/accounts/tokens/", (LOGIN, 200, 200, 200)),
    # arena pages
    "arena:home": ("GET", "/arena/", (LOGIN, 200, 200, 200)),
    "arena:arena": ("GET", "/arena/{arena}/", (LOGIN, 200, 200, 200)),
    "arena:sample_answers": ("GET", "/arena/{arena}/sample-answers/", (LOGIN, 200, 200, 200)),
    "arena:start_battle": ("POST", "/arena/battles/", (LOGIN, 400, 400, 400)),
    "arena:start_arena_battle": ("POST", "/arena/{arena}/battles/", (LOGIN, 400, 400, 400)),
    "arena:battle": ("GET", "/arena/b/{battle}/", (LOGIN, 200, 404, 404)),
    "arena:vote": ("POST", "/arena/b/{battle}/vote/", (LOGIN, 400, 404, 404)),
    "arena:follow_up": ("POST", "/arena/b/{battle}/follow-up/", (LOGIN, 400, 404, 404)),
    "arena:leaderboard": ("GET", "/arena/leaderboard/", (200, 200, 200, 200)),
    "arena:top_flip": ("GET", "/arena/leaderboard/top-flip/", (200, 200, 200, 200)),
    "arena:sampling": ("GET", "/arena/sampling/", (200, 200, 200, 200)),
    "arena:sampling_image": ("GET", "/arena/sampling/models.png", (200, 200, 200, 200)),
    "arena:my_board": ("GET", "/arena/me/", (LOGIN, 200, 200, 200)),
    "arena:integrity": ("GET", "/arena/integrity/", (LOGIN, 403, 403, 200)),
    # (an empty form names no voter: 404 for an admin)
    "arena:integrity_action": ("POST", "/arena/integrity/exclude/", (LOGIN, 403, 403, 404)),
    "arena:leaderboard_image": ("GET", "/arena/leaderboard/intervals.png", (200, 200, 200, 200)),
    # arena API
    "api-battles": ("POST", "/api/battles/", (401, 400, 400, 400)),
    "api-battle": ("GET", "/api/battles/{battle}/", (401, 200, 404, 404)),
    "api-vote": ("POST", "/api/battles/{battle}/vote/", (401, 400, 404, 404)),
    "api-follow-up": ("POST", "/api/battles/{battle}/follow-up/", (401, 400, 404, 404)),
    "api-leaderboard": ("GET", "/api/leaderboard/", (200, 200, 200, 200)),
    "judges_api:scorecard": ("GET", "/api/judges/scorecard/", (401, 403, 403, 200)),
    # campaign pages
    "annotation:list": ("GET", "/campaigns/", (LOGIN, 200, 200, 200)),
    "annotation:create": ("GET", "/campaigns/new/", (LOGIN, 403, 200, 200)),
    "annotation:rubric_create": ("GET", "/campaigns/rubrics/new/", (LOGIN, 403, 200, 200)),
    "annotation:rubric_revise": ("GET", "/campaigns/rubrics/{rubric}/revise/", (LOGIN, 403, 200, 200)),
    "annotation:profile": ("GET", "/campaigns/profile/", (LOGIN, 200, 200, 200)),
    "annotation:annotate": ("GET", "/campaigns/{campaign}/", (LOGIN, 200, 200, 200)),
    "annotation:next_item": ("GET", "/campaigns/{campaign}/item/", (LOGIN, 200, 200, 200)),
    "annotation:submit": ("POST", "/campaigns/{campaign}/a/{assignment}/submit/", (LOGIN, 400, 400, 400)),
    # (a campaign's researchers and admins may annotate it too; an empty body is refused before the lease
    # is looked up, so everyone let in gets the 400)
    "annotation:skip": ("POST", "/campaigns/{campaign}/a/{assignment}/skip/", (LOGIN, 400, 400, 400)),
    "annotation:repeatsubmit": (
        "POST",
        "/campaigns/{campaign}/r/{assignment}/submit/",
        (LOGIN, 400, 400, 400),
    ),
    "annotation:repeatskip": ("POST", "/campaigns/{campaign}/r/{assignment}/skip/", (LOGIN, 400, 400, 400)),
    "annotation:mine": ("GET", "/campaigns/{campaign}/mine/", (LOGIN, 200, 200, 200)),
    "annotation:revise": ("GET", "/campaigns/{campaign}/mine/{assignment}/", (LOGIN, 404, 404, 404)),
    "annotation:build_items": ("GET", "/campaigns/{campaign}/build/", (LOGIN, 404, 200, 200)),
    "annotation:undo": ("POST", "/campaigns/{campaign}/undo/", (LOGIN, 400, 400, 400)),
    "annotation:edit": ("GET", "/campaigns/{campaign}/edit/", (LOGIN, 404, 200, 200)),
    "annotation:import": ("GET", "/campaigns/{campaign}/import/", (LOGIN, 404, 200, 200)),
    "annotation:dashboard": ("GET", "/campaigns/{campaign}/dashboard/", (LOGIN, 404, 200, 200)),
    "annotation:chart": ("GET", "/campaigns/{campaign}/dashboard/progress.png", (LOGIN, 404, 200, 200)),
    "annotation:status": ("POST", "/campaigns/{campaign}/status/", (LOGIN, 404, 400, 400)),
    "annotation:reopen": (
        "POST",
        "/campaigns/{campaign}/annotators/{annotator}/reopen/",
        (LOGIN, 404, 302, 302),
    ),
    "annotation:disagreements": ("GET", "/campaigns/{campaign}/disagreements/", (LOGIN, 404, 200, 200)),
    "annotation:adjudicate": (
        "POST",
        "/campaigns/{campaign}/disagreements/{item}/adjudicate/",
        (LOGIN, 404, 400, 400),
    ),
    # campaign API
    "api-campaign-next": ("POST", "/api/campaigns/{campaign}/next/", (401, 200, 200, 200)),
    "api-campaign-submit": (
        "POST",
        "/api/campaigns/{campaign}/assignments/{assignment}/submit/",
        (401, 400, 400, 400),
    ),
    "api-campaign-skip": (
        "POST",
        "/api/campaigns/{campaign}/assignments/{assignment}/skip/",
        (401, 400, 400, 400),
    ),
    "api-campaign-repeatsubmit": (
        "POST",
        "/api/campaigns/{campaign}/repeats/{assignment}/submit/",
        (401, 400, 400, 400),
    ),
    "api-campaign-repeatskip": (
        "POST",
        "/api/campaigns/{campaign}/repeats/{assignment}/skip/",
        (401, 400, 400, 400),
    ),
    "api-campaign-build-items": ("POST", "/api/campaigns/{campaign}/build-items/", (401, 404, 400, 400)),
    "api-campaign-undo": ("POST", "/api/campaigns/{campaign}/undo/", (401, 400, 400, 400)),
    "api-campaign-agreement": ("GET", "/api/campaigns/{campaign}/agreement/", (401, 404, 200, 200)),
    "api-campaign-import": ("POST", "/api/campaigns/{campaign}/import/", (401, 404, 400, 400)),
    # routing (a campaign's researchers and admins)
    "routing:page": ("GET", "/campaigns/{campaign}/routing/", (LOGIN, 404, 200, 200)),
    "routing:panel": ("GET", "/campaigns/{campaign}/routing/panel/", (LOGIN, 404, 200, 200)),
    "routing:chart": ("GET", "/campaigns/{campaign}/routing/chart.png", (LOGIN, 404, 200, 200)),
    "api-campaign-routing": ("GET", "/api/campaigns/{campaign}/routing/", (401, 404, 200, 200)),
    "api-campaign-routing-decisions": (
        "GET",
        "/api/campaigns/{campaign}/routing/decisions/",
        (401, 404, 200, 200),
    ),
    # exports
    "export:home": ("GET", "/export/", (LOGIN, 403, 200, 200)),
    "export:jobs": ("GET", "/export/jobs/", (LOGIN, 403, 200, 200)),
    "export:start": ("POST", "/export/start/", (LOGIN, 403, 400, 400)),
    "export:zip": ("GET", "/export/jobs/{export}/export.zip", (LOGIN, 403, 404, 404)),
    "export:download": ("GET", "/export/jobs/{export}/files/data.jsonl", (LOGIN, 403, 404, 404)),
    "api-exports": ("GET", "/api/exports/", (401, 403, 200, 200)),
    "api-export": ("GET", "/api/exports/{export}/", (401, 403, 200, 200)),
    # stored media: only to those allowed to see the comparison; a name nobody may see is a 404 for all
    "media": ("GET", "/media/i/" + "0" * 32 + ".png", (404, 404, 404, 404)),
    # API documentation and the JSON 404
    "schema": ("GET", "/api/schema/", (200, 200, 200, 200)),
    "api-docs": ("GET", "/api/docs/", (200, 200, 200, 200)),
    "api-not-found": ("GET", "/api/nope/", (404, 404, 404, 404)),
}

# The second method of URLs that take two (the API operations and the pages with a form).
MORE_METHODS = [
    ("api-exports", "POST", "/api/exports/", (401, 403, 400, 400)),
    ("api-campaign-routing", "PUT", "/api/campaigns/{campaign}/routing/", (401, 404, 400, 400)),
    ("api-campaign-routing", "PATCH", "/api/campaigns/{campaign}/routing/", (401, 404, 400, 400)),
    ("signup", "POST", "/accounts/signup/", (403, 403, 403, 403)),
    ("signup_invited", "POST", "/accounts/invite/{invitation}/", (400, 400, 400, 400)),
    ("api_tokens", "POST", "/accounts/tokens/", (LOGIN, 400, 400, 400)),
    ("annotation:create", "POST", "/campaigns/new/", (LOGIN, 403, 400, 400)),
    ("annotation:rubric_create", "POST", "/campaigns/rubrics/new/", (LOGIN, 403, 400, 400)),
    ("annotation:rubric_revise", "POST", "/campaigns/rubrics/{rubric}/revise/", (LOGIN, 403, 400, 400)),
    ("annotation:profile", "POST", "/campaigns/profile/", (LOGIN, 400, 400, 400)),
    ("annotation:edit", "POST", "/campaigns/{campaign}/edit/", (LOGIN, 404, 400, 400)),
    ("annotation:revise", "POST", "/campaigns/{campaign}/mine/{assignment}/", (LOGIN, 404, 404, 404)),
    ("annotation:import", "POST", "/campaigns/{campaign}/import/", (LOGIN, 404, 400, 400)),
    ("annotation:build_items", "POST", "/campaigns/{campaign}/build/", (LOGIN, 404, 400, 400)),
]

# The admin site: its URLs come from each registered model, so they are matched by pattern; every one
# is still requested. Only admins (staff) get in; everyone else is sent to the admin's sign-in page.
STAFF_ONLY = (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200)
ADMIN_MATRIX = [
    ("admin:index", STAFF_ONLY),
    ("admin:app_list", STAFF_ONLY),
    ("admin:*_changelist", STAFF_ONLY),
    (
        "admin:ranking_ratingsnapshot_add",
        (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 403),
    ),  # snapshots are computed
    ("admin:accounts_auditentry_add", (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 403)),  # the log is read-only
    ("admin:accounts_auditentry_delete", (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 403)),
    ("admin:accounts_signuppolicy_add", (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 403)),  # one row, edited
    ("admin:accounts_signuppolicy_delete", (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 403)),
    (
        "admin:annotation_routingdecision_add",
        (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 403),
    ),  # the router writes them
    # the arena's record of retirements, matchmaking changes and exclusions is never deleted; changes and
    # exclusions are written by the system and the integrity report, not added by hand
    ("admin:arena_retirement_delete", (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 403)),
    ("admin:arena_arenachange_add", (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 403)),
    ("admin:arena_arenachange_delete", (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 403)),
    ("admin:arena_voterexclusion_add", (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 403)),
    ("admin:arena_voterexclusion_delete", (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 403)),
    ("admin:*_add", STAFF_ONLY),
    ("admin:*_change", STAFF_ONLY),
    ("admin:*_history", STAFF_ONLY),
    ("admin:*_delete", STAFF_ONLY),
    ("admin:annotation_judge_scorecard", STAFF_ONLY),
    ("admin:autocomplete", (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 403)),  # without its query: refused
    ("admin:jsi18n", STAFF_ONLY),
    ("admin:login", (200, 200, 200, 302)),  # signed in without staff rights: the page says so
    ("admin:logout", (302, 302, 302, 405)),  # GET: signing out takes a POST
    ("admin:password_change", STAFF_ONLY),
    ("admin:password_change_done", STAFF_ONLY),
    ("admin:view_on_site", (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 404)),
    ("admin/*/<path:object_id>/", STAFF_ONLY[:3] + (302,)),  # the old change URL: a redirect to the new one
    ("admin/(?P<url>.*)$", STAFF_ONLY[:3] + (404,)),
]


def url_patterns(resolver=None, prefix="", namespace=None):
    """(key, route) of every pattern, namespaces joined the way reverse() takes them."""
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(n for n in (namespace, pattern.namespace) if n) or None
            yield from url_patterns(pattern, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield (name or prefix + str(pattern.pattern)), prefix + str(pattern.pattern)


def _admin_expected(key):
    for pattern, statuses in ADMIN_MATRIX:
        if fnmatch.fnmatchcase(key, pattern):
            return statuses
    return None


def _admin_path(key, route, world):
    """A concrete path for an admin pattern: its own model's first object where it takes one."""
    if key == "admin:app_list":
        return "/admin/arena/"
    if key == "admin:view_on_site":
        return "/admin/r/0/0/"
    if key == "admin/(?P<url>.*)$":
        return "/admin/no-such-page/"
    path = "/" + re.sub(r"\^|\$|\\", "", route)
    path = re.sub(r"<(path:object_id|id)>", "<path:object_id>", path)
    if "<path:object_id>" in path:
        app_label, model_name = path.split("/")[2:4]
        model = next(
            m
            for m in admin.site._registry
            if (m._meta.app_label, m._meta.model_name) == (app_label, model_name)
        )
        obj = model._default_manager.order_by("pk").first()
        assert obj is not None, f"the role-matrix world has no {model.__name__} to open in the admin"
        path = path.replace("<path:object_id>", str(obj.pk))
    return path


@pytest.fixture
def world(make_user):
    """The demo's three roles, and one of each object the URLs name (from the annotator's side)."""
    from django.contrib.auth import get_user_model

    from accounts import services as account_services
    from accounts.models import SignupPolicy
    from annotation import queues
    from annotation.models import (
        Adjudication,
        AnnotatorProfile,
        AnnotatorStanding,
        CampaignRouting,
        RoutingDecision,
    )
    from annotation.services import record_judgment
    from arena import board as arena_board
    from arena import services as arena_services
    from arena.models import Arena
    from export import jobs as export_services
    from inference.models import ModelEndpoint, ResponsePool
    from ranking.models import RatingSnapshot
    from routing.models import ComparisonFeatures
    from tests.test_campaign_fixtures import make_campaign

    users = {}
    for role in ("annotator", "researcher", "admin"):
        users[role] = make_user(role, is_staff=role == "admin", is_superuser=role == "admin")
        users[role].groups.add(Group.objects.get_or_create(name=role)[0])
    endpoints = [ModelEndpoint.objects.create(name=f"door-m{i}", path="/nowhere") for i in range(2)]
    arena = Arena.objects.create(name="Doors", slug="doors")
    arena.endpoints.add(*endpoints)
    campaign = make_campaign(users["researcher"], slug="doors", n_items=3)
    assignment = queues.next_assignment(campaign, users["annotator"])
    battle = arena_services.start_battle(arena, users["annotator"], "Say hello.")
    job = export_services.start_export_job(users["researcher"], {"format": "dpo"})
    # one object of each model the admin lists, so its change/history/delete pages have one to open
    pool = ResponsePool.objects.create(name="doors-pool")
    pool.endpoints.set(endpoints)
    record_judgment(assignment.item.comparison, [[0], [1]], annotator=users["admin"], identities_hidden=True)
    AnnotatorStanding.objects.create(campaign=campaign, annotator=users["annotator"])
    AnnotatorProfile.objects.get_or_create(user=users["annotator"])
    Adjudication.objects.create(item=assignment.item, ranking=[[0], [1]], adjudicator=users["researcher"])
    RatingSnapshot.objects.create(method="bt", judgment_count=0, rows=[])
    CampaignRouting.objects.create(campaign=campaign)
    RoutingDecision.objects.create(item=assignment.item, destination="human", policy="all", reason="a test")
    ComparisonFeatures.objects.create(comparison=assignment.item.comparison, features={}, version="test")
    arena_board.retire_model(ModelEndpoint.objects.create(name="door-old", path="/nowhere"), "Replaced.")
    arena_board.exclude_voter(get_user_model().objects.create_user("door-fan"), "A test exclusion.")
    Token.objects.create(user=users["annotator"])
    SignupPolicy.objects.update_or_create(pk=1, defaults={"mode": "invite"})
    invitation = account_services.create_invitation(users["admin"])
    return users, {
        "arena": arena.slug,
        "campaign": campaign.slug,
        "assignment": assignment.pk,
        "battle": battle.public_id,
        "export": job.public_id,
        "rubric": campaign.rubric.pk,
        "item": assignment.item.pk,
        "annotator": users["annotator"].pk,
        "invitation": invitation.token,
    }


def _status(response):
    if response.status_code == 302:
        location = response["Location"]
        if location.startswith("/admin/login/"):
            return ADMIN_LOGIN
        if location.startswith("/accounts/login/"):
            return LOGIN
    return response.status_code


def without_entry(patterns):
    return [key for key, _ in patterns if key not in MATRIX and _admin_expected(key) is None]


@pytest.mark.django_db
def test_every_url_has_an_entry_and_every_role_gets_its_status(world):
    users, ids = world
    patterns = list(url_patterns())
    missing = without_entry(patterns)
    assert not missing, f"URL patterns with no entry in the role matrix (decide who may open them): {missing}"
    stale = sorted(set(MATRIX) - {key for key, _ in patterns})
    assert not stale, f"matrix entries for URLs that no longer exist: {stale}"

    requests = []
    for key, route in patterns:
        if key in MATRIX:
            method, template, expected = MATRIX[key]
            path = template.format(**ids)
        else:
            method, path, expected = "GET", _admin_path(key, route, ids), _admin_expected(key)
        requests.append((key, method, path, expected))
    requests += [(key, method, path.format(**ids), expected) for key, method, path, expected in MORE_METHODS]

    wrong = []
    for index, role in enumerate(ROLES):
        client = APIClient()
        if role != "anonymous":
            client.force_login(users[role])
        for key, method, path, expected in requests:
            response = client.generic(method, path)
            got = _status(response)
            if got != expected[index]:
                wrong.append(f"{role:>10} {method} {path} ({key}): {got}, the matrix says {expected[index]}")
            if key == "logout" and role != "anonymous":
                client.force_login(users[role])  # signed out by the request: sign back in
    assert not wrong, f"{len(wrong)} doors answer other than the matrix says:\n" + "\n".join(wrong)


def test_the_matrix_paths_resolve_to_their_own_patterns():
    """Each entry's path reaches the pattern it is filed under (not, say, the JSON 404 catch-all)."""
    ids = {k: "x1" for k in ("arena", "campaign", "battle", "export", "invitation")} | {
        k: 1 for k in ("assignment", "rubric", "item", "annotator")
    }
    for key, (_, template, _) in MATRIX.items():
        match = resolve(template.format(**ids).split("?")[0])
        name = ":".join(match.namespaces + [match.url_name]) if match.url_name else match.route
        assert name == key or (not key and match.route == ""), (key, name)


def test_a_new_url_without_an_entry_is_caught():
    new = URLResolver(RegexPattern(r"^/"), [path("brand-new/", lambda request: None, name="brand-new")])
    assert without_entry(url_patterns(new)) == ["brand-new"]


@pytest.mark.django_db
def test_every_api_operation_in_the_schema_has_a_row(client):
    """Each operation (path and method) of the OpenAPI schema is in the matrix, not only its URL."""
    rows = {(key, method) for key, (method, _, _) in MATRIX.items()} | {
        (key, method) for key, method, _, _ in MORE_METHODS
    }
    schema = client.get("/api/schema/?format=json").json()
    missing = []
    for template, operations in schema["paths"].items():
        match = resolve(re.sub(r"\{(\w+)\}", lambda m: "1" if m.group(1).endswith("_id") else "x1", template))
        key = ":".join(match.namespaces + [match.url_name])
        missing += [
            f"{method.upper()} {template}" for method in operations if (key, method.upper()) not in rows
        ]
    assert not missing, f"API operations with no row in the role matrix: {missing}"
