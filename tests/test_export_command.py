"""The management command and bad input: unknown formats and policies, policies that do not
fit the format, filters that match nothing, paths that cannot be written, failures midway."""

import io
import json
import os

import pytest
from django.core.management import CommandError, call_command

from export import jobs, permissions
from export.options import ExportOptionsError, parse_options
from export.services import ExportPathError, export_preferences

pytestmark = pytest.mark.django_db


def test_the_command_writes_the_dataset_and_the_card(judged, tmp_path):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "export_preferences",
        "--format",
        "dpo",
        "--out",
        str(tmp_path / "ds"),
        "--file-format",
        "both",
        "--test-fraction",
        "0.2",
        "--license",
        "cc-by-4.0",
        stdout=out,
        stderr=err,
    )
    assert "Wrote 30 rows" in out.getvalue()
    assert "judgments" in err.getvalue() and "30/30" in err.getvalue()  # the tqdm bar
    files = sorted(
        p.relative_to(tmp_path / "ds").as_posix() for p in (tmp_path / "ds").rglob("*") if p.is_file()
    )
    assert files == [
        "README.md",
        "data/test.jsonl",
        "data/test.parquet",
        "data/train.jsonl",
        "data/train.parquet",
    ]
    card = (tmp_path / "ds" / "README.md").read_text()
    assert card.startswith("---\nlicense: cc-by-4.0\n")
    for needle in (
        "config_name: default",
        "path: data/train.parquet",
        "config_name: jsonl",
        "## Policies",
        "chosen-longer rate",
        "## Length statistics",
        "source mix (rows): human: 30",
        "Tied pairs",
    ):
        assert needle in card, needle
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_a_second_export_to_the_same_folder_needs_overwrite(judged, tmp_path):
    call_command(
        "export_preferences",
        "--format",
        "kto",
        "--out",
        str(tmp_path / "ds"),
        "--no-progress",
        stdout=io.StringIO(),
    )
    with pytest.raises(CommandError, match="already exists and is not empty"):
        call_command(
            "export_preferences", "--format", "dpo", "--out", str(tmp_path / "ds"), stdout=io.StringIO()
        )
    call_command(
        "export_preferences",
        "--format",
        "dpo",
        "--out",
        str(tmp_path / "ds"),
        "--overwrite",
        "--no-progress",
        stdout=io.StringIO(),
    )
    first = json.loads((tmp_path / "ds" / "data" / "train.jsonl").read_text().splitlines()[0])
    assert "chosen" in first and sorted(os.listdir(tmp_path)) == ["ds"]


@pytest.mark.parametrize(
    "options, sentence",
    [
        (
            {"format": "sft"},
            "Unknown format 'sft'; choose one of: dpo, dpo-chat, reward, kto, listwise, ratings.",
        ),
        ({}, "Choose a format"),
        ({"format": "dpo", "ties": "coinflip"}, "Unknown ties 'coinflip'"),
        ({"format": "dpo", "rank_breaking": "random"}, "Unknown rank breaking 'random'"),
        ({"format": "dpo", "aggregate": "mean"}, "Unknown aggregate 'mean'"),
        ({"format": "dpo", "file_format": "csv"}, "Unknown file format 'csv'"),
        ({"format": "dpo", "source": "robots"}, "Unknown source 'robots'"),
        ({"format": "dpo", "ties": "kto-negative"}, "only the kto format has"),
        ({"format": "kto", "ties": "margin-zero"}, "KTO rows have no margin"),
        ({"format": "listwise", "aggregate": "majority"}, "keeps every judgment"),
        ({"format": "ratings", "max_chosen_longer_rate": 0.5}, "only pair formats"),
        ({"format": "kto", "margin": "strength"}, "margin column exists only"),
        ({"format": "dpo", "min_agreement": "1.5"}, "Min agreement must be at least 0 and at most 1"),
        ({"format": "dpo", "test_fraction": "1"}, "Test fraction must be at least 0 and below 1"),
        ({"format": "dpo", "min_confidence": "high"}, "Min confidence must be a whole number"),
        ({"format": "dpo", "since": "yesterday"}, "Since must be a date"),
        ({"format": "dpo", "since": "2026-02-01", "until": "2026-01-01"}, "'since' is after 'until'"),
    ],
)
def test_bad_options_are_refused_with_a_sentence(options, sentence, tmp_path):
    with pytest.raises(ExportOptionsError) as caught:
        export_preferences(options, tmp_path / "out")
    assert sentence in str(caught.value)
    assert not list(tmp_path.iterdir())


def test_the_command_turns_bad_options_into_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="Unknown format 'sft'"):
        call_command("export_preferences", "--format", "sft", "--out", str(tmp_path / "x"))
    assert not list(tmp_path.iterdir())


def test_filters_that_match_nothing_give_an_empty_dataset_whose_card_says_so(judged, tmp_path):
    import pyarrow.parquet as pq

    out = io.StringIO()
    call_command(
        "export_preferences",
        "--format",
        "dpo",
        "--out",
        str(tmp_path / "empty"),
        "--arena",
        "nowhere",
        "--file-format",
        "parquet",
        "--no-progress",
        stdout=out,
    )
    assert "The export is empty" in out.getvalue()
    card = (tmp_path / "empty" / "README.md").read_text()
    assert "This export is empty: no judgment matched" in card and "| train | 0 |" in card
    # (datasets refuses to load a split with no rows, so the file is read directly: typed, with no rows.)
    table = pq.read_table(tmp_path / "empty" / "data" / "train.parquet")
    assert table.num_rows == 0 and {"prompt", "chosen", "rejected"} <= set(table.column_names)


def test_an_output_path_that_cannot_be_written(judged, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ExportPathError, match="is a file"):
        export_preferences({"format": "dpo"}, blocker)
    with pytest.raises(ExportPathError, match="Cannot create the folder"):
        export_preferences({"format": "dpo"}, blocker / "inside" / "ds")
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(ExportPathError, match="permission denied"):
            export_preferences({"format": "dpo"}, locked / "ds")
    with pytest.raises(CommandError, match="is a file"):
        call_command("export_preferences", "--format", "dpo", "--out", str(blocker))
    assert blocker.read_text() == "not a folder"


def test_a_failure_midway_leaves_no_partial_file(judged, tmp_path, monkeypatch):
    calls = []

    def failing_progress(read, written, total):
        calls.append(read)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        export_preferences({"format": "dpo"}, tmp_path / "ds", progress=failing_progress, page_size=5)
    assert calls and not list(tmp_path.iterdir())


def test_parse_options_keeps_everything_for_the_card():
    options = parse_options(
        {
            "format": "reward",
            "models": "b, a ,a",
            "since": "2026-01-01",
            "until": "2026-01-31",
            "blind_only": "on",
            "seed": "3",
            "margin": "strength",
        }
    )
    assert options.models == ("a", "b") and options.blind_only and options.seed == 3 and options.has_margin
    data = options.as_dict()
    assert data["since"] == "2026-01-01T00:00:00+00:00" and data["until"].startswith("2026-01-31T23:59:59")
    assert parse_options(data) == options


def test_only_researchers_and_admins_may_start_an_export(make_user):
    from django.contrib.auth.models import Group

    with pytest.raises(permissions.ExportNotAllowed):
        jobs.start_export_job(make_user("annotator-only"), {"format": "dpo"})
    researcher = make_user("res")
    researcher.groups.add(Group.objects.get_or_create(name="researcher")[0])
    assert permissions.can_export(researcher)
