"""A schema-driven fuzz of the whole API (schemathesis) against a live server on PostgreSQL.

Every operation in /api/schema/ is called with examples generated from the schema, valid and
invalid, by an admin, a researcher and an annotator (token auth). Each response must be no 5xx,
a status the schema lists, the documented content type and body, a 4xx for invalid input, and
a 401/403 when the credentials are left out. Half the examples aim at real objects (the seeded
campaign, battle, export job), so the code behind the 404 is reached too.

Bounded: at most FUZZ_EXAMPLES examples per operation, role and mode, and about FUZZ_SECONDS in all:
each (operation, role, mode) gets an equal share of the time left and at least one example."""

import os
import time

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi import checks as openapi_checks

from tests.test_campaign_fixtures import add_role, jsonl, rows_k

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
FUZZ_SECONDS = float(os.environ.get("FUZZ_SECONDS", "80"))
ROLES = ("admin", "researcher", "annotator")


class TimeUp(Exception):
    """Ends one operation's examples when its share of FUZZ_SECONDS is spent."""


CHECKS = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.negative_data_rejection,
    openapi_checks.ignored_auth,
]


@pytest.fixture
def fuzz_world(transactional_db, make_user):
    """The demo's three roles with API tokens, an open arena, a campaign with items, a battle and an
    export job each, so path parameters can name objects that exist."""
    from annotation import campaigns as campaign_services
    from annotation import items, queues
    from annotation.rubrics import template_spec
    from arena import services as arena_services
    from arena.models import Arena
    from export import jobs as export_services
    from inference.models import ModelEndpoint

    users = {
        "admin": add_role(make_user("fuzz-admin", is_staff=True, is_superuser=True), "admin"),
        "researcher": add_role(make_user("fuzz-researcher"), "researcher"),
        "annotator": add_role(make_user("fuzz-annotator"), "annotator"),
    }
    arena = Arena.objects.create(name="Fuzz arena", slug="fuzz")
    arena.endpoints.add(*[ModelEndpoint.objects.create(name=f"fuzz-m{i}", path="/nowhere") for i in range(2)])
    rubric = campaign_services.create_rubric("fuzz-rubric", template_spec("simple"), user=users["researcher"])
    campaign = campaign_services.create_campaign(
        user=users["researcher"],
        name="Fuzz campaign",
        slug="fuzz",
        rubric=rubric,
        k=2,
        overlap=3,
    )
    items.import_items(campaign, jsonl(rows_k(30, 2)), "jsonl")
    held = queues.next_assignment(campaign, users["annotator"])
    real = {"slug": ["fuzz"], "public_id": [], "assignment_id": [held.pk]}
    for role, user in users.items():
        real["public_id"].append(str(arena_services.start_battle(arena, user, "Say hello.").public_id))
        if role != "annotator":
            real["public_id"].append(str(export_services.start_export_job(user, {"format": "dpo"}).public_id))
    return {role: Token.objects.create(user=user).key for role, user in users.items()}, real


@pytest.mark.slow
def test_the_api_survives_a_schema_driven_fuzz_as_every_role(fuzz_world, live_server):
    tokens, real = fuzz_world
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    deadline = time.monotonic() + FUZZ_SECONDS
    failures, sent = {}, [0]
    session = requests.Session()

    def run(operation, mode, role, run_deadline):
        # One connection per request: when a view answers before reading a malformed body, the test server's
        # keep-alive would read the rest of that body as the next request (gunicorn closes such a connection).
        headers = {"Authorization": f"Token {tokens[role]}", "Connection": "close"}
        started = [False]

        @settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def example(case):
            if started[0] and time.monotonic() > run_deadline:
                raise TimeUp  # this run's share of the time is spent (its first example always goes)
            started[0] = True
            sent[0] += 1
            if sent[0] % 2 and mode is GenerationMode.POSITIVE:  # aim at an object that exists
                for name, values in real.items():
                    if name in (case.path_parameters or {}):
                        case.path_parameters[name] = values[sent[0] % len(values)]
            response = case.call(base_url=live_server.url, session=session, headers=headers)
            try:
                case.validate_response(
                    response,
                    checks=CHECKS,
                    headers=headers,
                    transport_kwargs={"base_url": live_server.url, "headers": headers},
                )
            except FailureGroup as exc:
                for failure in exc.exceptions:
                    key = f"{operation.label} [{response.status_code}] {failure.title}"
                    failures.setdefault(key, f"{key} ({role}, {mode.value}):\n{str(exc)[:1200]}")

        try:
            example()
        except Unsatisfiable:  # nothing invalid can be made for this operation (e.g. a free-text path)
            pass
        except TimeUp:
            pass

    runs = [
        (operation, mode, role)
        for operation in operations
        for role in ROLES
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ]
    try:
        for index, (operation, mode, role) in enumerate(runs):
            # Each run gets an equal share of the time left, so a slow machine sends fewer examples
            # per operation but still reaches every operation, role and mode.
            share = (deadline - time.monotonic()) / (len(runs) - index)
            run(operation, mode, role, time.monotonic() + share)
    finally:
        session.close()  # a kept-alive connection holds a server thread, and its database connection
    assert sent[0] >= len(runs) - 6, "the fuzz reached too few operations"  # a few cannot be made invalid
    assert not failures, (
        f"{len(failures)} distinct failures in {sent[0]} examples:\n"
        + "\n".join(failures)
        + "\n\n"
        + "\n\n".join(list(failures.values())[:8])
    )
