"""Golden tests for every export policy on a small hand-built set:
a clear win judged by a person and an AI judge, a tie, a "none acceptable",
K=4 with a tie group, and three annotators who disagree."""

import json

import pytest

from annotation.services import create_comparison, record_judgment
from export.formats import annotator_pseudonym
from export.services import export_preferences
from inference.models import ModelEndpoint, Prompt, Response

pytestmark = pytest.mark.django_db


def _text(label, extra=0):
    return label + (" " + "x" * extra if extra else "")


@pytest.fixture
def models():
    return [ModelEndpoint.objects.create(name=f"m-{c}", path="/unused") for c in "abcd"]


def _comparison(models, label, k=2, prompt=None, lengths=None):
    prompt = Prompt.objects.create(conversation=[{"role": "user", "content": prompt or f"prompt {label}"}])
    lengths = lengths or [0] * k
    responses = [
        Response.objects.create(
            prompt=prompt, endpoint=models[p], status="done", text=_text(f"{label}p{p}", lengths[p])
        )
        for p in range(k)
    ]
    return create_comparison(prompt, responses)


@pytest.fixture
def golden(models, make_user):
    users = [make_user(f"annotator{i}") for i in range(3)]
    judge = ModelEndpoint.objects.create(name="judge-x", path="/unused")
    c1 = _comparison(models, "c1", lengths=[10, 0])
    record_judgment(
        c1,
        [[0], [1]],
        annotator=users[0],
        identities_hidden=True,
        strength=2,
        confidence=3,
        rationale="A is right.",
        reason_tags=["accurate"],
        rubric_version="v1",
    )
    record_judgment(c1, [[0], [1]], judge=judge, judge_prompt_version="p1", identities_hidden=True)
    c2 = _comparison(models, "c2")
    record_judgment(c2, [[0, 1]], annotator=users[0], identities_hidden=True)
    c3 = _comparison(models, "c3")
    record_judgment(c3, [[0, 1]], annotator=users[0], identities_hidden=True, none_acceptable=True)
    c4 = _comparison(models, "c4", k=4)
    record_judgment(
        c4,
        [[2], [0, 3], [1]],
        annotator=users[0],
        identities_hidden=True,
        strength=1,
        aspects={"helpfulness": [3, 1, 4, 2], "safety": [[2, 0, 3], [1]]},
    )
    c5 = _comparison(models, "c5")
    record_judgment(c5, [[0], [1]], annotator=users[0], identities_hidden=True, confidence=1)
    record_judgment(c5, [[0], [1]], annotator=users[1], identities_hidden=False, confidence=2)
    record_judgment(c5, [[1], [0]], annotator=users[2], identities_hidden=True, confidence=3)
    return {"users": users, "judge": judge, "c": [c1, c2, c3, c4, c5]}


def export(tmp_path, name="out", **options):
    options.setdefault("format", "dpo")
    result = export_preferences(options, tmp_path / name)
    return result, rows(tmp_path / name)


def rows(out, split="train"):
    path = out / "data" / f"{split}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def pairs(rows_):
    """(chosen label, rejected label) per row, in file order."""
    return [(r["chosen"].split()[0], r["rejected"].split()[0]) for r in rows_]


def test_defaults_all_pairs_drop_ties_every_judgment_its_own_row(golden, tmp_path):
    result, out = export(tmp_path)
    assert pairs(out) == [
        ("c1p0", "c1p1"),
        ("c1p0", "c1p1"),  # the person and the AI judge
        ("c4p2", "c4p0"),
        ("c4p2", "c4p3"),
        ("c4p2", "c4p1"),
        ("c4p0", "c4p1"),
        ("c4p3", "c4p1"),
        ("c5p0", "c5p1"),
        ("c5p0", "c5p1"),
        ("c5p1", "c5p0"),
    ]
    assert [r["agreement"] for r in out[-3:]] == [pytest.approx(2 / 3, abs=1e-5)] * 2 + [
        pytest.approx(1 / 3, abs=1e-5)
    ]
    summary = result["summary"]
    assert summary["dropped"] == {"none acceptable (judgments)": 1, "tied pairs": 2}  # c2's tie, c4's 0=3
    assert summary["judgments_read"] == 8 and summary["rows"] == {"train": 10}
    assert summary["source_mix"] == {"ai": 1, "human": 9}
    assert set(out[0]) >= {
        "prompt",
        "chosen",
        "rejected",
        "comparison_id",
        "judgment_ids",
        "annotators",
        "judges",
    }
    assert "margin" not in out[0]


def test_provenance_columns(golden, tmp_path):
    _, out = export(tmp_path)
    human, ai = out[0], out[1]
    c1 = golden["c"][0]
    assert (
        human["prompt"] == "prompt c1"
        and human["comparison_id"] == c1.pk
        and human["prompt_id"] == c1.prompt_id
    )
    assert human["chosen_model"] == "m-a" and human["rejected_model"] == "m-b"
    assert (human["chosen_position"], human["rejected_position"], human["tie"]) == (0, 1, False)
    assert (
        human["source"] == "human"
        and human["judges"] == []
        and human["strength"] == 2
        and human["confidence"] == 3
    )
    assert (
        human["rationale"] == "A is right."
        and human["reason_tags"] == ["accurate"]
        and human["rubric_version"] == "v1"
    )
    pseudonym = human["annotators"][0]
    assert pseudonym == annotator_pseudonym(golden["users"][0].pk) and pseudonym.startswith("ann-")
    assert "annotator0" not in json.dumps(out)
    assert ai["source"] == "ai" and ai["judges"] == ["judge-x@p1"] and ai["annotators"] == []
    assert human["judged_at"] and human["comparison_created_at"] and human["n_judgments"] == 1
    assert out[8]["identities_hidden"] is False  # c5's second annotator saw the names


@pytest.mark.parametrize(
    "method, expected",
    [
        ("best-vs-rest", [("c4p2", "c4p0"), ("c4p2", "c4p3"), ("c4p2", "c4p1")]),
        ("adjacent", [("c4p2", "c4p0"), ("c4p2", "c4p3"), ("c4p0", "c4p1"), ("c4p3", "c4p1")]),
    ],
)
def test_rank_breaking(golden, tmp_path, method, expected):
    result, out = export(tmp_path, rank_breaking=method)
    assert [p for p in pairs(out) if p[0].startswith("c4")] == expected
    # best-vs-rest has no tie inside the best group of c4; adjacent keeps c4's 0=3 tie to drop.
    assert result["summary"]["dropped"]["tied pairs"] == (1 if method == "best-vs-rest" else 2)


def test_margin_zero_keeps_ties_and_both_bad_with_margin_0(golden, tmp_path):
    _, out = export(tmp_path, ties="margin-zero", margin="strength")
    by = {(r["chosen"].split()[0], r["rejected"].split()[0], r["judgment_ids"][0]): r for r in out}
    assert [(p, r["margin"], r["tie"]) for p, r in zip(pairs(out), out) if p[0][:2] in ("c2", "c3")] == [
        (("c2p0", "c2p1"), 0.0, True),
        (("c3p0", "c3p1"), 0.0, True),
    ]
    c3 = next(r for r in out if r["chosen"].startswith("c3"))
    assert c3["none_acceptable"] is True
    c4 = {p: r["margin"] for p, r in zip(pairs(out), out) if p[0].startswith("c4")}
    # strength 1 × tie-group gap; the 0=3 tie has margin 0.
    assert c4 == {
        ("c4p2", "c4p0"): 1.0,
        ("c4p2", "c4p3"): 1.0,
        ("c4p2", "c4p1"): 2.0,
        ("c4p0", "c4p1"): 1.0,
        ("c4p3", "c4p1"): 1.0,
        ("c4p0", "c4p3"): 0.0,
    }
    c1 = [r["margin"] for p, r in zip(pairs(out), out) if p[0].startswith("c1")]
    assert c1 == [2.0, 1.0]  # the person said "clearly" (2); the AI judge gave no strength
    assert len(by) == len(out)


def test_kto_negative_makes_unpaired_negatives(golden, tmp_path):
    _, out = export(tmp_path, format="kto", ties="kto-negative")
    labelled = [(r["completion"][0]["content"].split()[0], r["label"]) for r in out]
    assert labelled[:4] == [("c1p0", True), ("c1p1", False), ("c1p0", True), ("c1p1", False)]
    assert [x for x in labelled if x[0][:2] in ("c2", "c3")] == [
        ("c2p0", False),
        ("c2p1", False),
        ("c3p0", False),
        ("c3p1", False),
    ]
    c4 = [x for x in labelled if x[0].startswith("c4")]
    # five strict pairs unpaired (10 rows), then c4's tied 0 and 3 once each as negatives
    assert c4[:10] == [
        ("c4p2", True),
        ("c4p0", False),
        ("c4p2", True),
        ("c4p3", False),
        ("c4p2", True),
        ("c4p1", False),
        ("c4p0", True),
        ("c4p1", False),
        ("c4p3", True),
        ("c4p1", False),
    ]
    assert c4[10:] == [("c4p0", False), ("c4p3", False)]
    assert out[0]["prompt"] == [{"role": "user", "content": "prompt c1"}]
    assert out[0]["completion"][0]["role"] == "assistant"


def test_kto_with_drop_only_unpairs_strict_pairs(golden, tmp_path):
    _, out = export(tmp_path, format="kto")
    assert len(out) == 2 * 10 and all(not r["tie"] for r in out)


def test_majority_aggregation_and_minimum_agreement(golden, tmp_path):
    _, out = export(tmp_path, aggregate="majority")
    c5 = [r for r in out if r["chosen"].startswith("c5") or r["rejected"].startswith("c5")]
    assert len(c5) == 1 and pairs(c5) == [("c5p0", "c5p1")]
    assert c5[0]["agreement"] == pytest.approx(2 / 3, abs=1e-5) and c5[0]["n_judgments"] == 2
    assert c5[0]["confidence"] == 1.5 and len(c5[0]["annotators"]) == 2
    c1 = [r for r in out if r["chosen"].startswith("c1")]
    assert len(c1) == 1 and c1[0]["source"] == "mixed" and c1[0]["agreement"] == 1.0

    _, strict = export(tmp_path, name="strict", aggregate="majority", min_agreement=0.7)
    assert not [r for r in strict if r["comparison_id"] == golden["c"][4].pk]
    _, weighted = export(tmp_path, name="weighted", aggregate="weighted")
    assert pairs(weighted) == pairs(out)  # every weight is 1.0 until reliability exists


def test_majority_draw_yields_nothing(golden, models, make_user, tmp_path):
    c6 = _comparison(models, "c6")
    record_judgment(c6, [[0], [1]], annotator=golden["users"][0], identities_hidden=True)
    record_judgment(c6, [[1], [0]], annotator=golden["users"][1], identities_hidden=True)
    result, out = export(tmp_path, aggregate="majority")
    assert not [r for r in out if r["comparison_id"] == c6.pk]
    assert result["summary"]["dropped"]["no majority (pairs)"] == 1


def test_min_agreement_without_aggregation_drops_the_minority_vote(golden, tmp_path):
    _, out = export(tmp_path, min_agreement=0.5)
    assert ("c5p1", "c5p0") not in pairs(out) and pairs(out).count(("c5p0", "c5p1")) == 2


def test_filters(golden, tmp_path):
    _, human = export(tmp_path, name="h", source="human")
    assert all(r["source"] == "human" for r in human) and len(human) == 9
    _, ai = export(tmp_path, name="a", source="ai")
    assert len(ai) == 1 and ai[0]["judges"] == ["judge-x@p1"]
    _, confident = export(tmp_path, name="conf", min_confidence=2)
    assert {r["confidence"] for r in confident} == {2.0, 3.0} and len(confident) == 3
    _, blind = export(tmp_path, name="blind", blind_only=True)
    assert len(blind) == 9
    _, ab = export(tmp_path, name="ab", models=["m-a", "m-b"])
    assert all({r["chosen_model"], r["rejected_model"]} <= {"m-a", "m-b"} for r in ab)
    assert pairs([r for r in ab if r["chosen"].startswith("c4")]) == [("c4p0", "c4p1")]
    result, future = export(tmp_path, name="future", since="2999-01-01")
    assert future == [] and result["summary"]["rows_total"] == 0
    _, past = export(tmp_path, name="past", until="2000-01-01")
    assert past == []


def test_listwise_keeps_tie_groups(golden, tmp_path):
    _, out = export(tmp_path, format="listwise")
    c4 = next(r for r in out if r["comparison_id"] == golden["c"][3].pk)
    assert [t.split()[0] for t in c4["responses"]] == ["c4p2", "c4p0", "c4p3", "c4p1"]
    assert c4["ranks"] == [1, 2, 2, 3] and c4["positions"] == [2, 0, 3, 1]
    assert c4["models"] == ["m-c", "m-a", "m-d", "m-b"]
    assert not [
        r for r in out if r["comparison_id"] in (golden["c"][1].pk, golden["c"][2].pk)
    ]  # tie, both bad
    _, kept = export(tmp_path, name="kept", format="listwise", ties="margin-zero")
    assert len(kept) == len(out) + 2


def test_ratings_rows_per_response_with_aspect_scores(golden, tmp_path):
    _, out = export(tmp_path, format="ratings")
    c4 = {r["position"]: r for r in out if r["comparison_id"] == golden["c"][3].pk}
    assert {p: r["rank"] for p, r in c4.items()} == {2: 1, 0: 2, 3: 2, 1: 3}
    assert {p: r["rank_score"] for p, r in c4.items()} == {2: 1.0, 0: 0.5, 3: 0.5, 1: 0.0}
    # helpfulness is a Likert list by position; safety a ranking [[2, 0, 3], [1]] → rank scores.
    assert c4[2]["aspect_scores"] == [
        {"aspect": "helpfulness", "score": 4.0},
        {"aspect": "safety", "score": pytest.approx(2 / 3)},
    ]
    assert c4[1]["aspect_scores"] == [
        {"aspect": "helpfulness", "score": 1.0},
        {"aspect": "safety", "score": 0.0},
    ]


def test_length_balancing_caps_the_chosen_longer_rate(models, make_user, tmp_path):
    user = make_user("balancer")
    for i in range(20):
        # 3 in 4 pairs have the longer answer chosen.
        longer_wins = i % 4 != 3
        c = _comparison(models, f"L{i:02d}", lengths=[30, 0] if longer_wins else [0, 30])
        record_judgment(c, [[0], [1]], annotator=user, identities_hidden=True)
    raw, out = export(tmp_path, name="raw")
    assert raw["summary"]["chosen_longer_rate"] == 0.75
    result, balanced = export(tmp_path, name="bal", max_chosen_longer_rate=0.5)
    longer = sum(len(r["chosen"]) > len(r["rejected"]) for r in balanced)
    # Greedy and streaming: the first three chosen-longer pairs go, then each shorter-chosen pair
    # lets one chosen-longer pair through: 5 + 4 kept.
    assert longer == 4 and len(balanced) == 9
    assert result["summary"]["chosen_longer_rate"] == 0.4444
    assert result["summary"]["dropped"] == {"length balancing (train)": 11}
    card = (tmp_path / "bal" / "README.md").read_text()
    assert "at most 50% of pairs" in card and "chosen-longer rate: 44.44%" in card


def test_split_is_grouped_by_prompt_and_deterministic(models, make_user, tmp_path):
    user = make_user("splitter")
    for i in range(60):
        # 20 prompt texts, each typed three times (three Prompt rows).
        c = _comparison(models, f"S{i:02d}", prompt=f"question {i % 20}")
        record_judgment(c, [[0], [1]], annotator=user, identities_hidden=True)
    first, _ = export(tmp_path, name="one", test_fraction=0.3, seed=7)
    train, test = rows(tmp_path / "one"), rows(tmp_path / "one", "test")
    assert train and test and len(train) + len(test) == 60
    assert not {r["prompt"] for r in train} & {r["prompt"] for r in test}
    export(tmp_path, name="two", test_fraction=0.3, seed=7)
    for split in ("train", "test"):
        assert (tmp_path / "one/data" / f"{split}.jsonl").read_bytes() == (
            tmp_path / "two/data" / f"{split}.jsonl"
        ).read_bytes()
    export(tmp_path, name="other-seed", test_fraction=0.3, seed=8)
    assert rows(tmp_path / "other-seed", "test") != test
    assert "split: test" in (tmp_path / "one" / "README.md").read_text()


def test_campaign_aspect_shapes_become_scores():
    from export.formats import aspect_scores

    aspects = {
        "helpful": {"kind": "rating", "ratings": [4, 1, 3], "confidence": 2},
        "truthful": {"kind": "ranking", "ranking": [[2], [0, 1]], "strength": 2},
    }
    assert aspect_scores(aspects, 0, 3) == [
        {"aspect": "helpful", "score": 4.0},
        {"aspect": "truthful", "score": 0.25},
    ]  # tied for places 2-3
    assert aspect_scores(aspects, 2, 3) == [
        {"aspect": "helpful", "score": 3.0},
        {"aspect": "truthful", "score": 1.0},
    ]
