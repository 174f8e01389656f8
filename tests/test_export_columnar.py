"""The columnar export path (pair formats, every judgment its own rows) against the row path:
on a varied data set, for every policy, both write the same bytes and the same counts."""

import random

import pyarrow.parquet as pq
import pytest

from annotation.models import Judgment
from annotation.services import create_comparison, record_judgment
from export import columnar
from export.options import parse_options
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


OPTIONS = [
    {"format": "dpo"},
    {"format": "dpo", "rank_breaking": "adjacent", "ties": "margin-zero"},
    {
        "format": "dpo-chat",
        "rank_breaking": "best-vs-rest",
        "margin": "strength",
        "test_fraction": 0.3,
        "seed": 3,
    },
    {"format": "reward", "ties": "margin-zero", "margin": "strength", "min_agreement": 0.6},
    {"format": "kto", "ties": "kto-negative"},
    {
        "format": "kto",
        "ties": "kto-negative",
        "rank_breaking": "adjacent",
        "models": "model-1,model-2,model-3",
    },
    {"format": "dpo", "max_chosen_longer_rate": 0.4, "test_fraction": 0.5, "source": "human"},
    {"format": "kto", "ties": "drop", "min_agreement": 0.5, "blind_only": True},
    {"format": "reward", "models": "model-0,model-4", "test_fraction": 0.4, "seed": 9},
]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_columnar_path_writes_what_the_row_path_writes(mixed, tmp_path, options, monkeypatch):
    options = {**options, "file_format": "both"}
    assert columnar.applies(parse_options(options))
    rows_result = export_preferences(options, tmp_path / "rows", columnar=False)
    pages = []
    page_tables = columnar.page_tables
    monkeypatch.setattr(columnar, "page_tables", lambda *a: pages.append(a[1].num_rows) or page_tables(*a))
    # Pages of 5 judgments: comparisons end pages early, and the one with 7 judgments makes a page grow.
    columns_result = export_preferences(options, tmp_path / "columns", page_size=5)

    assert len(pages) > 10 and max(pages) > 5  # the columnar path ran, a page at a time
    assert columns_result["summary"] == rows_result["summary"]
    assert columns_result["summary"]["rows_total"] > 0
    assert columns_result["files"] == rows_result["files"]
    for name in rows_result["files"]:
        a, b = tmp_path / "rows" / name, tmp_path / "columns" / name
        if name.endswith(".parquet"):
            left, right = pq.read_table(a), pq.read_table(b)
            assert left.schema == right.schema and left.equals(right), name
        else:
            assert a.read_bytes() == b.read_bytes(), name


def test_refused_rankings_are_dropped_and_counted_by_both_paths(mixed, tmp_path):
    rows_result = export_preferences({"format": "dpo"}, tmp_path / "rows", columnar=False)
    columns_result = export_preferences({"format": "dpo"}, tmp_path / "columns")
    dropped = "ranking does not match the shown responses"
    assert rows_result["summary"]["dropped"][dropped] == columns_result["summary"]["dropped"][dropped] == 4


def test_empty_page_set_writes_an_empty_dataset(mixed, tmp_path):
    result = export_preferences({"format": "dpo", "models": "no-such-model"}, tmp_path / "none")
    assert result["summary"]["rows_total"] == 0
    assert (tmp_path / "none" / "data" / "train.jsonl").read_bytes() == b""


def test_read_ahead_yields_in_order_and_hands_errors_to_the_caller():
    from export.selectors import read_ahead

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

    from export.selectors import read_ahead

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
