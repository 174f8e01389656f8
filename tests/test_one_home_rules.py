"""Rules with one home: domain errors carry their status, services queue work without importing tasks,
admin actions go through services, a rubric spec is parsed once."""

import ast
from pathlib import Path

import pytest

from annotation import queues
from annotation.campaigns import CampaignForbidden
from annotation.errors import status_of
from annotation.rubrics import TEMPLATES, parse_spec, validate_spec
from annotation.services import JudgmentConflict
from arena.guests import GuestLimit
from arena.services import BattleClosed, BattleNotFound, BattleNotReady, TooManyOpenBattles
from config.api_errors import exception_handler
from inference.models import ModelEndpoint, Prompt, Response
from inference.services import retry_failed

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "exc, status",
    [
        (CampaignForbidden("no"), 403),
        (queues.NotAssigned("no"), 403),
        (queues.AssignmentGone("gone"), 409),
        (queues.CampaignNotOpen("paused"), 409),
        (JudgmentConflict("twice"), 409),
        (BattleNotFound("none"), 404),
        (BattleNotReady("wait"), 409),
        (BattleClosed("voted"), 409),
        (TooManyOpenBattles("many"), 429),
        (GuestLimit("often"), 429),
        (queues.QueueBusy(), 503),
        (ValueError("bad input"), 400),
        (KeyError("a bug"), None),
    ],
)
def test_each_domain_error_carries_its_status(exc, status):
    assert status_of(exc) == status


def test_the_api_handler_answers_a_domain_error_with_its_sentence_status_and_retry_after():
    busy = exception_handler(queues.QueueBusy(), {})
    assert (
        busy.status_code == 503
        and busy["Retry-After"] == "1"
        and busy.data["detail"] == str(queues.QueueBusy())
    )
    many = exception_handler(TooManyOpenBattles("You already have 3 battles."), {})
    assert many.status_code == 429 and many["Retry-After"] == "10"
    assert many.data["detail"].startswith("You already have 3 battles.")
    conflict = exception_handler(JudgmentConflict("You already judged this."), {})
    assert conflict.status_code == 409 and conflict.data == {"detail": "You already judged this."}
    assert exception_handler(KeyError("a bug"), {}) is None  # not a domain error: a 500, as before


def _imports_of(path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            yield ("." * node.level) + (node.module or ""), [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []


def test_nothing_imports_tasks_back():
    offenders = []
    for app in ("annotation", "arena", "export", "inference", "ranking", "routing", "accounts", "config"):
        for path in (ROOT / app).rglob("*.py"):
            if path.name == "tasks.py" or "migrations" in path.parts:
                continue
            for module, names in _imports_of(path):
                if module.split(".")[-1] == "tasks" or "tasks" in names:
                    offenders.append(f"{path.relative_to(ROOT)}: {module} {names}")
    assert offenders == []


@pytest.mark.django_db
def test_the_admins_retry_resets_only_failed_answers_and_queues_them_on_commit(
    django_capture_on_commit_callbacks,
):
    endpoint = ModelEndpoint.objects.create(name="m", path="/nowhere")
    prompt = Prompt.objects.create(conversation=[{"role": "user", "content": "hi"}])
    failed = Response.objects.create(
        prompt=prompt, endpoint=endpoint, status="failed", error="boom", text="x"
    )
    done = Response.objects.create(prompt=prompt, endpoint=endpoint, status="done", text="fine")
    with django_capture_on_commit_callbacks() as callbacks:
        assert retry_failed([failed.pk, done.pk]) == 1
    assert len(callbacks) == 1  # sent after commit, never inside the admin's transaction
    failed.refresh_from_db()
    done.refresh_from_db()
    assert (failed.status, failed.error, failed.text) == ("pending", "", "")
    assert (done.status, done.text) == ("done", "fine")


def test_a_rubric_spec_is_parsed_once_and_reads_like_the_stored_dict():
    for template in TEMPLATES.values():
        spec = parse_spec(template["spec"])
        assert parse_spec(dict(template["spec"])) is spec
        assert spec.as_dict() == validate_spec(template["spec"])
        assert spec["aspects"] == spec.aspects and spec["ties_allowed"] is spec.ties_allowed
    with pytest.raises(ValueError, match="unknown settings: colour"):
        parse_spec({"colour": "red"})
