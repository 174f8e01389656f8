"""Guests in exports (issue 14): a vote by an arena guest (a session-bound voter without an account)
is marked ``guest`` in the export's provenance, and an export can leave guests out (the option, the
command's flag and the API's field); the dataset card says which. The arena filter reads the
comparison's origin, which the arena sets when it makes a battle."""

import importlib
import io
import json

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.management import call_command

from annotation import roles
from annotation.models import Comparison
from annotation.services import create_comparison, record_judgment
from arena import services as arena_services
from export.services import export_preferences
from inference.models import ModelEndpoint, Prompt, Response

pytestmark = pytest.mark.django_db


@pytest.fixture
def votes(arena, make_user):
    """A member's and a guest's arena votes, and a member's vote outside the arena."""
    member = make_user("member")
    guest = make_user("guest-1a2b3c")
    guest.groups.add(Group.objects.get_or_create(name=roles.GUEST)[0])
    for voter in (member, guest):
        battle = arena_services.start_battle(arena, voter, "Say hello.")
        record_judgment(battle.comparison, [[0], [1]], annotator=voter, identities_hidden=True)
    models = [ModelEndpoint.objects.create(name=f"elsewhere-{i}", path="/unused") for i in range(2)]
    prompt = Prompt.objects.create(conversation=[{"role": "user", "content": "Outside the arena."}])
    responses = [
        Response.objects.create(prompt=prompt, endpoint=m, status="done", text=m.name) for m in models
    ]
    record_judgment(
        create_comparison(prompt, responses), [[1], [0]], annotator=member, identities_hidden=True
    )
    return member, guest


def _rows(result, out):
    return [
        json.loads(line)
        for name in result["files"]
        if name.endswith(".jsonl")
        for line in (out / name).read_text().splitlines()
    ]


def test_guest_votes_are_marked_and_can_be_left_out(votes, arena, tmp_path):
    everything = export_preferences({"format": "dpo"}, tmp_path / "all")
    rows = _rows(everything, tmp_path / "all")
    assert sorted(row["guest"] for row in rows) == [False, False, True]
    card = (tmp_path / "all" / "README.md").read_text()
    assert "`guest`" in card and "kept; their rows have `guest` true" in card

    members = export_preferences({"format": "dpo", "exclude_guests": True}, tmp_path / "members")
    assert [row["guest"] for row in _rows(members, tmp_path / "members")] == [False, False]
    assert (
        "arena guests (session-bound voters without an account): left out"
        in (tmp_path / "members" / "README.md").read_text()
    )

    # The same for the Python rows (aggregation, listwise, ratings), which read the same pages.
    listwise = export_preferences({"format": "listwise", "exclude_guests": "true"}, tmp_path / "lw")
    assert [row["guest"] for row in _rows(listwise, tmp_path / "lw")] == [False, False]
    merged = export_preferences({"format": "kto", "aggregate": "majority"}, tmp_path / "kto")
    assert sum(row["guest"] for row in _rows(merged, tmp_path / "kto")) == 2  # the guest's pair: two rows


def test_the_command_and_the_api_take_the_option(votes, tmp_path, client):
    call_command(
        "export_preferences",
        "--format",
        "dpo",
        "--exclude-guests",
        "--no-progress",
        "--out",
        str(tmp_path / "cmd"),
        stdout=io.StringIO(),
    )
    lines = (tmp_path / "cmd" / "data" / "train.jsonl").read_text().splitlines()
    assert len(lines) == 2 and not any(json.loads(line)["guest"] for line in lines)

    from rest_framework.test import APIClient

    from annotation.roles import RESEARCHER

    researcher = votes[0]
    researcher.groups.add(Group.objects.get_or_create(name=RESEARCHER)[0])
    api = APIClient()
    api.force_authenticate(researcher)
    created = api.post("/api/exports/", {"format": "dpo", "exclude_guests": True}, format="json")
    assert created.status_code in (201, 202), created.content
    assert created.json()["options"]["exclude_guests"] is True


def test_the_arena_filter_reads_the_origin_the_arena_sets(votes, arena, tmp_path):
    origins = set(Comparison.objects.values_list("origin", flat=True))
    assert origins == {"", f"arena:{arena.slug}"}
    result = export_preferences({"format": "dpo", "arena": arena.slug}, tmp_path / "arena")
    assert result["summary"]["rows_total"] == 2
    assert (
        export_preferences({"format": "dpo", "arena": "other"}, tmp_path / "none")["summary"]["rows_total"]
        == 0
    )

    # Battles made before the origin existed get it from the data migration.
    Comparison.objects.update(origin="")
    migration = importlib.import_module("arena.migrations.0007_comparison_origin")
    migration.fill_origin(apps, None)
    assert set(Comparison.objects.values_list("origin", flat=True)) == origins
