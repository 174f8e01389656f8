"""The one export pipeline on a varied data set: every value of every policy option does what it
promises, through the columnar rows (pairs, every judgment its own rows) and the Python rows
(aggregation, listwise, ratings) alike, and a page boundary never changes a byte."""

import json
import random

import pyarrow.parquet as pq
import pytest
from django.db.models import Count

from annotation.models import Judgment
from annotation.services import create_comparison, record_judgment
from export.services import export_preferences
from inference.models import ModelEndpoint, Prompt, Response

pytestmark = pytest.mark.django_db

CONVERSATIONS = [
    [{"role": "user", "content": "Write a haiku about rain."}],
    [{"role": "user", "content": "NA"}],  # texts a CSV reader could take for a missing value
    [{"role": "user", "content": "Say \"hi\",\nthen stop."}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "日本の首都は？"}],
    [
        {"role": "user", "content": "Fix: print 'a' + 1"},
        {"role": "assistant", "content": "Use str(1)."},
        {"role": "user", "content": "Why?"},
    ],
]
TEXTS = [
    "Plain answer.",
    "A \"quoted\", comma, answer\nover two lines.",
    "Ünïcödé ✓ 答え",
    "",
    "x" * 300,
    "**bold** and `code`",
    "NA",
    "null",
    "N/A",
    "t",
    "\\N",
    "line\r\nbreak",
]


def _random_ranking(rng, k):
    positions = list(range(k))
    rng.shuffle(positions)
    groups, i = [], 0
    while i < k:
        size = rng.choice([1, 1, 1, 2]) if k - i > 1 else 1
        groups.append(sorted(positions[i : i + size]))
        i += size
    return groups


@pytest.fixture
def mixed(make_user):
    """Comparisons of K = 2 to 4 with one to four judges each (people and an AI judge),
    ties, "none acceptable", every optional field, and rankings the service would refuse."""
    rng = random.Random(7)
    models = [ModelEndpoint.objects.create(name=f"model-{i}", path="/unused") for i in range(5)]
    judge = ModelEndpoint.objects.create(name="judge", path="/unused")
    users = [make_user(f"rater{i}") for i in range(8)]
    prompts = [Prompt.objects.create(conversation=c) for c in CONVERSATIONS]
    comparisons = []
    for number in range(70):
        k = rng.choice([2, 2, 2, 3, 4])
        prompt = rng.choice(prompts)
        responses = [
            Response.objects.create(
                prompt=prompt,
                endpoint=models[m],
                status="done",
                text=rng.choice(TEXTS) + ("" if rng.random() < 0.4 else f" #{number}.{m}"),
            )
            for m in rng.sample(range(5), k)
        ]
        comparison = create_comparison(prompt, responses)
        comparisons.append(comparison)
        people = rng.sample(users, 7 if number == 13 else rng.choice([1, 1, 2, 3]))
        for person in people:
            record_judgment(
                comparison,
                _random_ranking(rng, k),
                annotator=person,
                identities_hidden=rng.random() < 0.8,
                none_acceptable=rng.random() < 0.1,
                strength=rng.choice([None, 1, 2, 3]),
                confidence=rng.choice([None, 1, 5]),
                rationale=rng.choice(["", "B rambles,\n\"A\" is exact.", "✓", "NA", "null"]),
                reason_tags=rng.choice([[], ["clear"], ["b", "a", "a"]]),
                rubric_version=rng.choice(["", "v1"]),
            )
        if rng.random() < 0.3:
            record_judgment(
                comparison,
                _random_ranking(rng, k),
                judge=judge,
                judge_prompt_version=rng.choice(["", "p2"]),
                identities_hidden=True,
            )
    # Rankings the service refuses, written directly: a position twice, one missing, not numbers.
    outsider = make_user("raw-writer")
    for comparison, ranking in zip(comparisons[:4], ([[0], [0]], [[0]], [["0"], ["1"]], [[0], [True]])):
        Judgment.objects.create(
            comparison=comparison, ranking=ranking, source="human", annotator=outsider, identities_hidden=True
        )
    return comparisons


def _rows(result, out):
    rows = {}
    for name in result["files"]:
        if name.endswith(".jsonl"):
            split = name.split("/")[-1].split(".")[0]
            rows[split] = [json.loads(line) for line in (out / name).read_text().splitlines()]
    return rows


def _all(rows):
    return [row for split in rows.values() for row in split]


def _pairs(row):
    return row.get("chosen_position", row.get("position"))


# Every value of every policy option, each with a check of what it promises. Each option set runs
# through the one pipeline (pages → units → rows → writers) and is exported a page of 5
# judgments at a time, so whole comparisons must survive page ends.
def _check_ties_drop(options, rows, summary):
    assert not any(row["tie"] for row in _all(rows))
    assert summary["dropped"].get("tied pairs", 0) > 0


def _check_margin_zero(options, rows, summary):
    ties = [row for row in _all(rows) if row["tie"]]
    assert ties and all(row["margin"] == 0.0 for row in ties)


def _check_kto_negative(options, rows, summary):
    negatives = [row for row in _all(rows) if row["tie"]]
    assert negatives and all(row["label"] is False for row in negatives)


def _check_rank_breaking(options, rows, summary):
    method = options.get("rank_breaking", "all-pairs")
    for row in _all(rows):
        if row["n_judgments"] == 1 and not row["tie"] and method == "all-pairs":
            assert row["chosen_position"] != row["rejected_position"]
    assert _all(rows)


def _check_aggregate(options, rows, summary):
    seen = set()
    for row in _all(rows):
        key = (
            row["comparison_id"],
            min(row["chosen_position"], row["rejected_position"]),
            max(row["chosen_position"], row["rejected_position"]),
        )
        assert key not in seen  # one verdict per pair of a comparison
        seen.add(key)
    assert any(row["n_judgments"] > 1 for row in _all(rows))


def _check_min_agreement(options, rows, summary):
    assert all(row["agreement"] >= options["min_agreement"] for row in _all(rows))
    assert summary["dropped"].get("below minimum agreement", 0) > 0


def _check_margin_strength(options, rows, summary):
    assert any(row["margin"] > 1 for row in _all(rows))


def _check_length_balance(options, rows, summary):
    for split in rows.values():
        pairs = [r for r in split if not r["tie"]]
        longer = sum(len(str(r["chosen"])) > len(str(r["rejected"])) for r in pairs)
        assert longer <= options["max_chosen_longer_rate"] * len(pairs) + 1e-9


def _check_split(options, rows, summary):
    prompts = {split: {row["prompt_id"] for row in split_rows} for split, split_rows in rows.items()}
    assert set(prompts) == {"train", "test"} and not prompts["train"] & prompts["test"]


def _check_models(options, rows, summary):
    wanted = set(options["models"].split(","))
    for row in _all(rows):
        named = row.get("models") or [
            row.get(k) for k in ("chosen_model", "rejected_model", "model") if k in row
        ]
        assert set(named) <= wanted
    assert summary["dropped"].get("model filter", 0) > 0


def _check_source(options, rows, summary):
    assert {row["source"] for row in _all(rows)} == {options["source"]}


def _check_blind(options, rows, summary):
    assert all(row["identities_hidden"] for row in _all(rows))


def _check_confidence(options, rows, summary):
    assert all(row["confidence"] >= options["min_confidence"] for row in _all(rows))


def _check_reliability(options, rows, summary):
    assert summary["unknown_reliability"] > 0


def _check_rows(options, rows, summary):
    assert _all(rows)


POLICY_OPTIONS = [
    ({"format": "dpo", "ties": "drop"}, _check_ties_drop),
    ({"format": "dpo", "ties": "drop", "aggregate": "majority"}, _check_ties_drop),
    ({"format": "reward", "ties": "margin-zero"}, _check_margin_zero),
    ({"format": "dpo-chat", "ties": "margin-zero", "aggregate": "weighted"}, _check_margin_zero),
    ({"format": "kto", "ties": "kto-negative"}, _check_kto_negative),
    ({"format": "kto", "ties": "kto-negative", "aggregate": "majority"}, _check_kto_negative),
    ({"format": "dpo", "rank_breaking": "all-pairs"}, _check_rank_breaking),
    ({"format": "dpo", "rank_breaking": "adjacent", "ties": "margin-zero"}, _check_rank_breaking),
    ({"format": "dpo-chat", "rank_breaking": "best-vs-rest", "aggregate": "majority"}, _check_rank_breaking),
    ({"format": "dpo", "aggregate": "majority"}, _check_aggregate),
    ({"format": "reward", "aggregate": "weighted", "rank_breaking": "adjacent"}, _check_aggregate),
    ({"format": "dpo", "min_agreement": 0.6}, _check_min_agreement),
    ({"format": "kto", "min_agreement": 0.7, "aggregate": "majority"}, _check_min_agreement),
    ({"format": "listwise", "min_agreement": 0.6}, _check_min_agreement),
    ({"format": "dpo", "margin": "strength"}, _check_margin_strength),
    ({"format": "reward", "margin": "strength", "aggregate": "majority"}, _check_margin_strength),
    ({"format": "dpo", "max_chosen_longer_rate": 0.3, "test_fraction": 0.4}, _check_length_balance),
    ({"format": "dpo", "max_chosen_longer_rate": 0.3, "aggregate": "majority"}, _check_length_balance),
    ({"format": "dpo-chat", "test_fraction": 0.5}, _check_split),
    ({"format": "ratings", "test_fraction": 0.5}, _check_split),
    ({"format": "kto", "test_fraction": 0.5, "aggregate": "weighted"}, _check_split),
    ({"format": "kto", "models": "model-1,model-2,model-3"}, _check_models),
    ({"format": "listwise", "models": "model-0,model-4"}, _check_models),
    ({"format": "reward", "models": "model-0,model-4", "aggregate": "majority"}, _check_models),
    ({"format": "dpo", "source": "ai"}, _check_source),
    ({"format": "ratings", "source": "human"}, _check_source),
    ({"format": "dpo", "blind_only": True}, _check_blind),
    ({"format": "dpo", "min_confidence": 2, "aggregate": "majority"}, _check_confidence),
    ({"format": "dpo", "min_reliability": 0.2}, _check_reliability),
    ({"format": "kto", "aggregate": "weighted", "ties": "kto-negative"}, _check_reliability),
    ({"format": "listwise", "ties": "drop"}, _check_rows),
    ({"format": "ratings", "ties": "margin-zero", "file_format": "both"}, _check_rows),
    ({"format": "dpo", "file_format": "parquet"}, None),
]


@pytest.mark.parametrize(
    "options,check",
    POLICY_OPTIONS,
    ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()) if isinstance(o, dict) else "",
)
def test_every_policy_option_through_the_one_pipeline(mixed, tmp_path, options, check):
    """Each option does what it says, and reading the judgments 5 at a time (pages end inside
    comparisons) writes the same bytes as reading them all at once."""
    options = {"file_format": "jsonl", **options} if "file_format" not in options else options
    small = export_preferences(options, tmp_path / "small", page_size=5)
    large = export_preferences(options, tmp_path / "large")
    assert small["files"] == large["files"] and small["summary"] == large["summary"]
    for name in small["files"]:
        if name.endswith(".parquet"):
            left, right = pq.read_table(tmp_path / "small" / name), pq.read_table(tmp_path / "large" / name)
            assert left.schema == right.schema and left.equals(right), name
            assert left.num_rows == small["summary"]["rows_total"] or "test" in small["summary"]["rows"]
        else:
            assert (tmp_path / "small" / name).read_bytes() == (tmp_path / "large" / name).read_bytes(), name
    if check is not None:
        check(options, _rows(large, tmp_path / "large"), large["summary"])


@pytest.mark.parametrize("fmt", ["dpo", "dpo-chat", "reward", "kto"])
def test_a_single_judgment_makes_the_same_rows_with_or_without_aggregation(mixed, tmp_path, fmt):
    """Where a comparison has one judgment, its majority is that judgment: the columnar rows and
    the aggregated (Python) rows of those comparisons are the same rows, column for column."""
    single = {
        c
        for c, n in Judgment.objects.values_list("comparison_id")
        .annotate(n=Count("id"))
        .values_list("comparison_id", "n")
        if n == 1
    }
    options = {"format": fmt, "ties": "kto-negative" if fmt == "kto" else "margin-zero"}
    plain = _all(_rows(export_preferences(options, tmp_path / "plain"), tmp_path / "plain"))
    merged = _all(
        _rows(export_preferences({**options, "aggregate": "majority"}, tmp_path / "agg"), tmp_path / "agg")
    )

    # Aggregation orders a comparison's pairs by position, the columnar rows by rank: compare as sets.
    def keep(rows):
        return sorted(json.dumps(r, sort_keys=True) for r in rows if r["comparison_id"] in single)

    assert keep(plain) and keep(plain) == keep(merged)


def test_refused_rankings_are_dropped_and_counted_by_every_format(mixed, tmp_path):
    dropped = "ranking does not match the shown responses"
    for options in ({"format": "dpo"}, {"format": "dpo", "aggregate": "majority"}, {"format": "listwise"}):
        result = export_preferences(options, tmp_path / options["format"] / options.get("aggregate", "none"))
        assert result["summary"]["dropped"][dropped] == 4


def test_empty_page_set_writes_an_empty_dataset(mixed, tmp_path):
    result = export_preferences({"format": "dpo", "models": "no-such-model"}, tmp_path / "none")
    assert result["summary"]["rows_total"] == 0
    assert (tmp_path / "none" / "data" / "train.jsonl").read_bytes() == b""


def test_read_ahead_yields_in_order_and_hands_errors_to_the_caller():
    from annotation.judgment_pages import read_ahead

    assert list(read_ahead(iter(range(50)))) == list(range(50))

    def failing():
        yield 1
        raise RuntimeError("the database went away")

    seen = []
    with pytest.raises(RuntimeError, match="went away"):
        for item in read_ahead(failing()):
            seen.append(item)
    assert seen == [1]


def test_read_ahead_stops_its_thread_when_the_caller_stops_early():
    import threading

    from annotation.judgment_pages import read_ahead

    produced = []

    def endless():
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    reader = read_ahead(endless())
    assert next(reader) == 0
    reader.close()  # what a failing export does to its page loop
    assert not any(t.name == "export-read-ahead" and t.is_alive() for t in threading.enumerate())
    assert len(produced) <= 3  # it read at most a page or two ahead, not everything


def test_progress_is_reported_per_page(mixed, tmp_path):
    calls = []
    export_preferences(
        {"format": "dpo"},
        tmp_path / "p",
        page_size=20,
        progress=lambda read, written, total: calls.append((read, written, total)),
    )
    assert len(calls) > 3
    reads = [c[0] for c in calls]
    assert reads == sorted(reads) and calls[-1][0] == calls[-1][2] == Judgment.objects.count()
