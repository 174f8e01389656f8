"""Pushing an export to the Hub: the upload is built locally and checked; nothing is sent."""

import pytest
from django.core.management import CommandError, call_command

from export.hub import hub_upload, push_to_hub

pytestmark = pytest.mark.django_db


def test_the_upload_holds_the_card_and_every_data_file(judged, tmp_path):
    out = tmp_path / "ds"
    call_command(
        "export_preferences",
        "--format",
        "dpo",
        "--out",
        str(out),
        "--file-format",
        "both",
        "--test-fraction",
        "0.5",
        "--no-progress",
    )
    operations = hub_upload(out)
    paths = sorted(op.path_in_repo for op in operations)
    assert paths[0] == "README.md" and all(p.startswith("data/") for p in paths[1:])
    assert {p.rsplit(".", 1)[-1] for p in paths[1:]} == {"jsonl", "parquet"}
    assert all(open(op.path_or_fileobj, "rb").read() for op in operations)


def test_what_cannot_be_pushed_says_why(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="no README.md dataset card"):
        hub_upload(tmp_path)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(ValueError, match="owner/name"):
        push_to_hub(tmp_path, "no-slash")
    with pytest.raises(ValueError, match="set HF_TOKEN"):
        push_to_hub(tmp_path, "me/prefs")
    with pytest.raises(CommandError, match="set HF_TOKEN"):
        call_command(
            "export_preferences", "--format", "dpo", "--out", str(tmp_path / "x"), "--push-to-hub", "me/prefs"
        )
    with pytest.raises(CommandError, match="owner/name"):
        call_command(
            "export_preferences", "--format", "dpo", "--out", str(tmp_path / "x"), "--push-to-hub", "../etc"
        )
    assert not (tmp_path / "x").exists()  # refused before anything was written
