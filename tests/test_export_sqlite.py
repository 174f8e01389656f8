"""The read seam (annotation.judgment_pages) and the whole export on SQLite, which the demo runs on.

A subprocess migrates a fresh SQLite file and exports a small varied data set in several formats;
this test exports the same data on PostgreSQL and compares the rows (ids and times aside, which
differ between two databases)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXPORTS = [
    {"format": "dpo"},
    {"format": "dpo-chat", "ties": "margin-zero", "test_fraction": 0.5, "seed": 1},
    {"format": "kto", "ties": "kto-negative"},
    {"format": "reward", "aggregate": "majority", "min_agreement": 0.5},
    {"format": "listwise"},
    {"format": "ratings", "models": "m0,m1"},
    {"format": "dpo", "exclude_guests": True},
]
_VARYING = {"comparison_id", "prompt_id", "judgment_ids", "annotators", "judged_at", "comparison_created_at"}


def seed_and_export(out):
    """Seed a small data set (one-turn and multi-turn prompts, K = 2 and 3, ties, "none
    acceptable", a guest, an AI judge and a ranking the service refuses) and export it in each
    of EXPORTS; returns, per export, its rows without the fields that differ between databases
    and its summary's counts."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from annotation import roles
    from annotation.models import Judgment
    from annotation.services import create_comparison, record_judgment
    from export.services import export_preferences
    from inference.models import ModelEndpoint, Prompt, Response

    users = [get_user_model().objects.create_user(f"sqlite-rater-{i}") for i in range(4)]
    users[2].groups.add(Group.objects.get_or_create(name=roles.GUEST)[0])
    models = [ModelEndpoint.objects.create(name=f"m{i}", path="/unused") for i in range(3)]
    judge = ModelEndpoint.objects.create(name="judge", path="/unused")
    prompts = [
        Prompt.objects.create(conversation=[{"role": "user", "content": "Say \"hi\",\nthen NA."}]),
        Prompt.objects.create(
            conversation=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "日本？"}]
        ),
    ]
    rankings = [[[0], [1]], [[1], [0]], [[0, 1]], [[2], [0, 1]], [[1], [2], [0]]]
    for number in range(8):
        k = 2 if number % 3 else 3
        prompt = prompts[number % 2]
        responses = [
            Response.objects.create(
                prompt=prompt, endpoint=models[m], status="done", text=f"answer {number}.{m}"
            )
            for m in range(k)
        ]
        comparison = create_comparison(prompt, responses)
        for u, user in enumerate(users[: 1 + number % 3]):
            ranking = next(r for r in rankings[(number + u) % 5 :] + rankings if sum(map(len, r)) == k)
            record_judgment(
                comparison,
                ranking,
                annotator=user,
                identities_hidden=True,
                none_acceptable=(number + u) % 7 == 3,
                strength=u + 1,
                rationale="NA" if u else "",
                reason_tags=["b", "a"] if u else [],
            )
        if number % 4 == 0:
            record_judgment(
                comparison, rankings[0] if k == 2 else rankings[3], judge=judge, identities_hidden=True
            )
        if number == 5:
            Judgment.objects.create(
                comparison=comparison,
                ranking=[["0"], [1]],
                source="human",
                annotator=users[3],
                identities_hidden=True,
            )
    results = []
    for number, options in enumerate(EXPORTS):
        result = export_preferences({**options, "file_format": "jsonl"}, Path(out) / str(number))
        rows = []
        for name in result["files"]:
            if name.endswith(".jsonl"):
                for line in (Path(out) / str(number) / name).read_text().splitlines():
                    row = json.loads(line)
                    rows.append({"split": name, **{k: v for k, v in row.items() if k not in _VARYING}})
        summary = result["summary"]
        results.append({"rows": rows, "dropped": summary["dropped"], "rows_total": summary["rows_total"]})
    return results


_SCRIPT = """
import json, sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from tests.test_export_sqlite import seed_and_export
print("RESULT" + json.dumps(seed_and_export(sys.argv[1])))
"""


@pytest.mark.django_db
def test_the_export_reads_and_writes_the_same_rows_on_sqlite(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path / "sqlite-out")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    on_sqlite = json.loads(done.stdout.split("RESULT", 1)[1])
    on_postgres = seed_and_export(tmp_path / "postgres-out")
    assert on_sqlite == on_postgres
    # The data set is varied enough to mean something: every export wrote rows, a guest is marked,
    # the refused ranking is counted, and leaving guests out leaves their rows out.
    assert all(export["rows_total"] > 0 for export in on_postgres)
    assert any(row["guest"] for row in on_postgres[0]["rows"])
    assert not any(row["guest"] for row in on_postgres[-1]["rows"])
    assert on_postgres[0]["dropped"]["ranking does not match the shown responses"] == 1
    assert on_postgres[-1]["rows_total"] < on_postgres[0]["rows_total"]
