"""The dataset card says what the data holds, for every format × source: who voted, how ties were treated,
and (for pair formats only) how rankings were broken into pairs."""

import json
from pathlib import Path

import pytest

from annotation.services import create_comparison, record_judgment
from export.card import SOURCE_TEXT
from export.options import FORMATS, SOURCES
from export.services import export_preferences
from inference.models import ModelEndpoint, Prompt, Response

pytestmark = pytest.mark.django_db


@pytest.fixture
def judged(make_user):
    models = [ModelEndpoint.objects.create(name=f"m-{i}", path="/unused") for i in range(3)]
    judge = ModelEndpoint.objects.create(name="judge", path="/unused")
    person = make_user("rater")
    rankings = [
        [[0], [1, 2]],
        [[2], [0], [1]],
        [[0, 1, 2]],
        [[1], [0], [2]],
    ]  # a partial tie, strict, all tied, strict
    for i, ranking in enumerate(rankings):
        prompt = Prompt.objects.create(conversation=[{"role": "user", "content": f"Question {i}?"}])
        responses = [
            Response.objects.create(
                prompt=prompt, endpoint=models[p], status="done", text=f"answer {p} " * (p + 1)
            )
            for p in range(3)
        ]
        comparison = create_comparison(prompt, responses)
        record_judgment(
            comparison, ranking, annotator=person, identities_hidden=True, none_acceptable=(i == 3)
        )
        record_judgment(
            comparison, [[0], [1], [2]], judge=judge, identities_hidden=True, judge_prompt_version="v1"
        )


def _rows(folder):
    return [
        json.loads(line)
        for path in sorted(Path(folder, "data").glob("*.jsonl"))
        for line in path.read_text().splitlines()
        if line
    ]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_the_card_matches_the_data(judged, tmp_path, fmt, source):
    out = tmp_path / f"{fmt}-{source}"
    export_preferences({"format": fmt, "source": source}, str(out))
    card = (out / "README.md").read_text()
    rows = _rows(out)
    # who voted: the card names exactly the sources the filter lets through, and the rows agree
    assert f"Made by PrefArena from {SOURCE_TEXT[source]}." in card
    if (
        source == "routed"
    ):  # no campaign here is routed: nothing to export (tests/test_routing_flow.py has the data)
        assert not rows and "This export is empty" in card
        return
    assert rows, card
    allowed = {"human": {"human"}, "ai": {"ai"}, "both": {"human", "ai", "mixed"}}[source]
    assert {row["source"] for row in rows} <= allowed

    if fmt in ("listwise", "ratings"):
        # rankings are kept whole: no pair talk, and ties stay as equal ranks
        assert "Tied pairs" not in card and "K(K-1)/2 pairs" not in card and "Not applied" in card
        assert "partial ties are kept as equal ranks" in card
        if source != "ai":  # the human's partial tie [[0], [1, 2]] is in the data
            if fmt == "listwise":
                assert any(len(set(row["ranks"])) < len(row["ranks"]) for row in rows)
            else:
                ranks = [(row["comparison_id"], row["rank"]) for row in rows]
                assert len(set(ranks)) < len(ranks)
        # "drop": all-tied and "none acceptable" judgments are gone
        assert not any(row["none_acceptable"] for row in rows)
    else:
        assert "Tied pairs and every judgment marked \"none acceptable\" are dropped." in card
        assert "K(K-1)/2 pairs per ranking" in card
        assert not any(row["tie"] for row in rows) and not any(row["none_acceptable"] for row in rows)


@pytest.mark.parametrize("fmt", ["listwise", "ratings"])
def test_ranked_formats_with_margin_zero_keep_every_judgment_and_say_so(judged, tmp_path, fmt):
    out = tmp_path / fmt
    export_preferences({"format": fmt, "ties": "margin-zero", "source": "human"}, str(out))
    card = (out / "README.md").read_text()
    rows = _rows(out)
    assert "Every judgment is kept, ties included (as equal ranks)" in card and "Tied pairs" not in card
    assert any(row["none_acceptable"] for row in rows)  # kept, and flagged
    comparisons = {row["comparison_id"] for row in rows}
    assert len(comparisons) == 4  # the all-tied judgment too
