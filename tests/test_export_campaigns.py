"""Campaigns in exports: the campaign filter, who may export which campaign, and
reliability-weighted aggregation and the minimum-reliability filter (golden rows where
weighted and majority disagree)."""

import io
import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from annotation.models import Assignment, Campaign, CampaignItem, Rubric
from annotation.quality import annotator_reliability
from annotation.services import create_comparison, record_judgment
from export import jobs
from export.models import ExportJob
from export.options import ExportOptionsError, parse_options
from export.permissions import ExportNotAllowed
from export.services import export_preferences
from inference.models import ModelEndpoint, Prompt, Response

pytestmark = pytest.mark.django_db


def _role(user, name):
    user.groups.add(Group.objects.get_or_create(name=name)[0])
    return user


@pytest.fixture
def models():
    return [ModelEndpoint.objects.create(name=f"m-{c}", path="/unused") for c in "ab"]


def _comparison(models, label):
    prompt = Prompt.objects.create(conversation=[{"role": "user", "content": f"prompt {label}"}])
    responses = [
        Response.objects.create(prompt=prompt, endpoint=models[p], status="done", text=f"{label}p{p}")
        for p in range(2)
    ]
    return create_comparison(prompt, responses)


def _campaign(slug, owner, researchers=()):
    rubric = Rubric.objects.get_or_create(family="export-test", version=1, defaults={"spec": {}})[0]
    campaign = Campaign.objects.create(name=f"Campaign {slug}", slug=slug, rubric=rubric, created_by=owner)
    campaign.researchers.set(researchers)
    return campaign


def _submit(campaign, comparison, annotator, ranking, kind="regular", expected=None, **fields):
    """A judgment made through a campaign item's assignment, as the annotation queue records it."""
    item, _ = CampaignItem.objects.get_or_create(
        campaign=campaign, comparison=comparison, defaults={"kind": kind, "expected_ranking": expected}
    )
    judgment, _ = record_judgment(comparison, ranking, annotator=annotator, identities_hidden=True, **fields)
    now = timezone.now()
    Assignment.objects.create(
        item=item,
        annotator=annotator,
        status="submitted",
        display_order=[0, 1],
        leased_at=now,
        expires_at=now + timedelta(minutes=15),
        submitted_at=now,
        judgment=judgment,
        check_passed=None if kind == "regular" else ranking == expected,
    )
    return judgment


def _rows(out):
    path = out / "data" / "train.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _labels(rows):
    return sorted(r["chosen"] + ">" + r["rejected"] for r in rows)


@pytest.fixture
def world(models, make_user):
    """Campaign alpha (owned by researcher ra), campaign beta (owned by rb), an arena-style
    vote outside every campaign, and an AI judge's verdict on an alpha comparison."""
    ra, rb = _role(make_user("ra"), "researcher"), _role(make_user("rb"), "researcher")
    helper = _role(make_user("rhelper"), "researcher")
    voter = make_user("voter")
    alpha, beta = _campaign("alpha", ra, researchers=[helper]), _campaign("beta", rb)
    a1, b1, free = _comparison(models, "a1"), _comparison(models, "b1"), _comparison(models, "free")
    _submit(alpha, a1, voter, [[0], [1]])
    _submit(beta, b1, voter, [[1], [0]])
    record_judgment(free, [[0], [1]], annotator=voter, identities_hidden=True)
    judge = ModelEndpoint.objects.create(name="judge-x", path="/unused")
    record_judgment(a1, [[0], [1]], judge=judge, identities_hidden=True)  # no assignment: alpha's by its item
    return {"ra": ra, "rb": rb, "helper": helper, "voter": voter}


def test_the_campaign_filter_takes_slugs_repeated_or_comma_separated(world, tmp_path):
    export_preferences({"format": "dpo", "campaigns": ["alpha"]}, tmp_path / "a")
    assert _labels(_rows(tmp_path / "a")) == ["a1p0>a1p1", "a1p0>a1p1"]  # the person and the AI judge
    export_preferences({"format": "dpo", "campaigns": "alpha, beta"}, tmp_path / "ab")
    assert _labels(_rows(tmp_path / "ab")) == ["a1p0>a1p1", "a1p0>a1p1", "b1p1>b1p0"]
    call_command(
        "export_preferences",
        "--format",
        "dpo",
        "--out",
        str(tmp_path / "cmd"),
        "--campaign",
        "beta",
        "--campaign",
        "alpha",
        "--no-progress",
        stdout=io.StringIO(),
    )
    assert _labels(_rows(tmp_path / "cmd")) == _labels(_rows(tmp_path / "ab"))
    assert "campaigns: alpha, beta" in (tmp_path / "cmd" / "README.md").read_text()
    assert parse_options({"format": "dpo", "campaigns": ["b,a", "a"]}).campaigns == ("a", "b")
    with pytest.raises(ExportOptionsError, match="No campaign with the address 'nope'"):
        export_preferences({"format": "dpo", "campaigns": ["alpha", "nope"]}, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_a_researcher_exports_their_campaigns_and_non_campaign_votes_only(world, tmp_path):
    result = export_preferences({"format": "dpo"}, tmp_path / "ra", user=world["ra"])
    # alpha (theirs) and the vote outside every campaign; never beta.
    assert _labels(_rows(tmp_path / "ra")) == ["a1p0>a1p1", "a1p0>a1p1", "freep0>freep1"]
    assert "outside every campaign" in result["summary"]["scope"]
    assert (
        "who could be read: the campaigns the exporting researcher manages"
        in (tmp_path / "ra" / "README.md").read_text()
    )
    export_preferences({"format": "dpo", "campaigns": ["alpha"]}, tmp_path / "helper", user=world["helper"])
    assert len(_rows(tmp_path / "helper")) == 2  # listed in alpha's researchers
    with pytest.raises(ExportNotAllowed) as refused:
        export_preferences(
            {"format": "dpo", "campaigns": ["alpha", "beta"]}, tmp_path / "no", user=world["ra"]
        )
    assert str(refused.value) == (
        "You may export only campaigns you manage, and you are not a researcher of 'beta'; "
        "ask its creator or an admin to add you."
    )
    assert not (tmp_path / "no").exists()
    admin = world["voter"].__class__.objects.create_superuser("boss", password="pw-xxxxxxxx")
    export_preferences({"format": "dpo"}, tmp_path / "admin", user=admin)
    assert len(_rows(tmp_path / "admin")) == 4
    with pytest.raises(ExportNotAllowed, match="Only researchers and admins"):
        export_preferences({"format": "dpo"}, tmp_path / "voter", user=world["voter"])

    newcomer = _role(world["voter"].__class__.objects.create_user("newcomer"), "researcher")
    export_preferences({"format": "dpo"}, tmp_path / "newcomer", user=newcomer)  # manages no campaign
    assert _labels(_rows(tmp_path / "newcomer")) == ["freep0>freep1"]


def test_the_api_refuses_a_campaign_the_researcher_does_not_own_with_403(world):
    api = APIClient()
    api.force_authenticate(world["ra"])
    refused = api.post("/api/exports/", {"format": "dpo", "campaigns": ["beta"]}, format="json")
    assert refused.status_code == 403 and "not a researcher of 'beta'" in refused.json()["detail"]
    unknown = api.post("/api/exports/", {"format": "dpo", "campaigns": ["nope"]}, format="json")
    assert unknown.status_code == 400 and "No campaign with the address 'nope'" in unknown.json()["detail"]
    assert not ExportJob.objects.exists()
    started = api.post("/api/exports/", {"format": "dpo", "campaigns": ["alpha"]}, format="json")
    assert started.status_code == 202 and started.json()["options"]["campaigns"] == ["alpha"]


def test_the_page_lists_only_exportable_campaigns_and_refuses_others(world, client):
    client.force_login(world["ra"])
    page = client.get("/export/").content.decode()
    assert 'value="alpha"' in page and 'value="beta"' not in page
    refused = client.post("/export/start/", {"format": "dpo", "campaigns": ["beta"]}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 403 and "not a researcher of" in refused.content.decode()
    assert not ExportJob.objects.exists()


def test_a_job_whose_owner_lost_the_campaign_fails_with_a_sentence(world):
    job = ExportJob.objects.create(
        created_by=world["rb"], format="dpo", options={"format": "dpo", "campaigns": ["alpha"]}
    )
    failed = jobs.run_export_job(job.pk)
    assert failed.status == "failed" and "not a researcher of 'alpha'" in failed.error


# ------------------------------------------------------------------ reliability


@pytest.fixture
def reliability_world(models, make_user):
    """Two unreliable annotators (every gold check failed) outvote a reliable one on comparison
    c; a fourth annotator has no evidence at all; an AI judge votes too on another comparison."""
    owner = _role(make_user("owner"), "researcher")
    campaign = _campaign("rel", owner)
    low1, low2, high, fresh = (make_user(n) for n in ("low1", "low2", "high", "fresh"))
    for g in range(4):
        gold = _comparison(models, f"g{g}")
        for person, ranking in ((low1, [[1], [0]]), (low2, [[1], [0]]), (high, [[0], [1]])):
            _submit(campaign, gold, person, ranking, kind="gold", expected=[[0], [1]])
    c = _comparison(models, "c")
    _submit(campaign, c, low1, [[0], [1]])
    _submit(campaign, c, low2, [[0], [1]])
    _submit(campaign, c, high, [[1], [0]])
    other = _comparison(models, "o")
    record_judgment(other, [[0], [1]], annotator=fresh, identities_hidden=True)
    judge = ModelEndpoint.objects.create(name="judge-y", path="/unused")
    record_judgment(other, [[1], [0]], judge=judge, identities_hidden=True)
    return {"campaign": campaign, "c": c, "other": other, "low1": low1, "high": high, "fresh": fresh}


def test_weighted_aggregation_follows_reliability_where_majority_follows_heads(reliability_world, tmp_path):
    w = reliability_world
    low, high = (
        annotator_reliability(w["low1"], w["campaign"]),
        annotator_reliability(w["high"], w["campaign"]),
    )
    # gold 0/4 for the unreliable pair (their top choices split 1:1 on c, so no agreement evidence);
    # gold 4/4 for the reliable one, who disagreed with the others' majority on c: shrunk toward 0.5.
    assert low == pytest.approx(1 / 6) and high == pytest.approx(5 / 7)
    assert annotator_reliability(w["fresh"]) is None

    export_preferences({"format": "dpo", "aggregate": "majority"}, tmp_path / "maj")
    export_preferences({"format": "dpo", "aggregate": "weighted"}, tmp_path / "wt")
    maj = {r["comparison_id"]: r for r in _rows(tmp_path / "maj")}
    wt = {r["comparison_id"]: r for r in _rows(tmp_path / "wt")}
    c, other = w["c"].pk, w["other"].pk
    assert (maj[c]["chosen"], maj[c]["rejected"]) == ("cp0", "cp1")
    assert maj[c]["agreement"] == pytest.approx(2 / 3, abs=1e-5) and maj[c]["n_judgments"] == 2
    assert (wt[c]["chosen"], wt[c]["rejected"]) == ("cp1", "cp0")
    assert (
        wt[c]["agreement"] == pytest.approx((5 / 7) / (5 / 7 + 2 / 6), abs=1e-5) and wt[c]["n_judgments"] == 1
    )
    # The fresh annotator and the AI judge both weigh 0.5 (unknown): a draw yields nothing, as in majority.
    assert other not in maj and other not in wt
    card = (tmp_path / "wt" / "README.md").read_text()
    assert "weighted by its author's reliability" in card and "weighs 0.5" in card


def test_min_reliability_drops_unreliable_annotators_and_keeps_unknown_ones(reliability_world, tmp_path):
    w = reliability_world
    result = export_preferences({"format": "dpo", "min_reliability": 0.5}, tmp_path / "min")
    rows = _rows(tmp_path / "min")
    on_c = [r for r in rows if r["comparison_id"] == w["c"].pk]
    assert [(r["chosen"], r["rejected"]) for r in on_c] == [("cp1", "cp0")]  # only the reliable vote is left
    on_other = [r for r in rows if r["comparison_id"] == w["other"].pk]
    assert len(on_other) == 2  # the annotator with no evidence and the AI judge are kept
    dropped = result["summary"]["dropped"]["annotator reliability below minimum (judgments)"]
    assert dropped == 2 + 2 * 4  # low1 and low2 on c and on their four gold items
    assert result["summary"]["unknown_reliability"] == 2
    card = (tmp_path / "min" / "README.md").read_text()
    assert "minimum annotator reliability: 0.5" in card and "2 such judgments" in card
    out = io.StringIO()
    call_command(
        "export_preferences",
        "--format",
        "dpo",
        "--out",
        str(tmp_path / "cmd"),
        "--min-reliability",
        "0.5",
        "--no-progress",
        stdout=out,
    )
    assert (tmp_path / "cmd" / "data" / "train.jsonl").read_bytes() == (
        tmp_path / "min" / "data" / "train.jsonl"
    ).read_bytes()
    with pytest.raises(ExportOptionsError, match="Min reliability must be at least 0 and at most 1"):
        parse_options({"format": "dpo", "min_reliability": "2"})
