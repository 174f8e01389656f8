"""The judge scorecard (service, admin page, API) and the reward-model judge's trainer."""

import pytest

from annotation.agreement import cohen_kappa
from annotation.judges import judge_comparison, train_reward_judge
from annotation.scorecard import judge_scorecard
from annotation.services import record_judgment
from inference.models import ModelEndpoint

pytestmark = pytest.mark.django_db

SHORT, LONG = "Blue.", "The sky is blue on a clear day, because air scatters blue light most."


def test_cohen_kappa_matches_the_textbook():
    assert cohen_kappa(["a", "b"], ["a", "b"]) == 1.0
    # 20 items: 0.7 observed, 0.5 expected -> 0.4
    pairs = [("y", "y")] * 7 + [("n", "n")] * 7 + [("y", "n")] * 3 + [("n", "y")] * 3
    assert round(cohen_kappa([a for a, _ in pairs], [b for _, b in pairs]), 4) == 0.4


def test_the_scorecard_measures_agreement_flips_and_length_bias(make_comparison, make_user, tiny_model_dirs):
    judge = ModelEndpoint.objects.create(name="judge-x", path=str(tiny_model_dirs[0]), judge_method="llm")
    people = [make_user(f"p{i}") for i in range(3)]
    # 4 comparisons, the long answer at position 1. People: long wins 3 times (2 of 3 votes), short once.
    human_winner = [1, 1, 1, 0]
    judge_verdicts = [
        [[1], [0]],
        [[1], [0]],
        [[0, 1]],
        [[1], [0]],
    ]  # agrees twice, one flip-tie, one disagreement
    for winner, verdict in zip(human_winner, judge_verdicts):
        c = make_comparison([SHORT, LONG])
        for i, person in enumerate(people):
            w = winner if i < 2 else 1 - winner
            record_judgment(c, [[w], [1 - w]], annotator=person, identities_hidden=True)
        tags = ["position-flip"] if len(verdict) == 1 else ["position-consistent"]
        record_judgment(
            c, verdict, judge=judge, judge_prompt_version="v1", identities_hidden=True, reason_tags=tags
        )
    [row] = judge_scorecard()
    assert (row["judge"], row["judge_prompt_version"], row["compared"], row["judged"]) == (
        "judge-x",
        "v1",
        4,
        4,
    )
    assert row["accuracy"] == 0.5
    assert row["position_flip_rate"] == 0.25
    # Strict on both sides: comparisons 1, 2 and 4. The judge picks the longer in all 3, people in 2 of 3.
    assert (row["length_pairs"], row["judge_picks_longer"], row["people_pick_longer"]) == (3, 1.0, 0.6667)
    assert row["cohen_kappa"] is not None and row["cohen_kappa"] < 0.5
    assert row["per_category"] == {}


def test_scorecard_in_the_api_schema_and_admin(
    admin_client, client, make_user, make_comparison, tiny_model_dirs
):
    judge = ModelEndpoint.objects.create(name="judge-y", path=str(tiny_model_dirs[0]), judge_method="llm")
    c = make_comparison([SHORT, LONG])
    record_judgment(c, [[1], [0]], annotator=make_user("h"), identities_hidden=True)
    record_judgment(c, [[1], [0]], judge=judge, judge_prompt_version="v1", identities_hidden=True)
    data = admin_client.get("/api/judges/scorecard/").json()
    assert data[0]["judge"] == "judge-y" and data[0]["accuracy"] == 1.0
    assert admin_client.get(f"/api/judges/scorecard/?judge={judge.pk + 1}").json() == []
    assert admin_client.get("/api/judges/scorecard/?judge=x").status_code == 400
    client.force_login(make_user("voter"))
    assert client.get("/api/judges/scorecard/").status_code == 403
    schema = admin_client.get("/api/schema/").content.decode()
    assert "/api/judges/scorecard/" in schema and "position_flip_rate" in schema
    page = admin_client.get("/admin/annotation/judgment/scorecard/").content.decode()
    assert "AI judge scorecard" in page and "judge-y" in page
    assert "AI judge scorecard" in admin_client.get("/admin/annotation/judgment/").content.decode()


def test_a_reward_judge_trained_on_human_judgments_ranks_held_out_answers(
    make_comparison, make_user, tmp_path
):
    person = make_user("rater")
    topics = [
        "the capital of France",
        "how rain forms",
        "why the sky is blue",
        "what a prime number is",
        "how bees make honey",
        "what photosynthesis does",
        "how a compass works",
        "why ice floats",
        "how tides happen",
        "what an atom is",
        "how vaccines work",
        "why leaves change colour",
    ]
    for i, topic in enumerate(topics * 2):
        good = f"Here is a clear explanation of {topic}, step by step, with the key facts."
        bad = f"I don't know and I won't help with {topic}." if i % 2 else "lol whatever"
        texts, winner = ([good, bad], 0) if i % 3 else ([bad, good], 1)
        c = make_comparison(texts, prompt_text=f"Explain {topic}. ({i})")
        record_judgment(c, [[winner], [1 - winner]], annotator=person, identities_hidden=True)
    endpoint, report = train_reward_judge("rm-test", out_dir=tmp_path / "rm", steps=200)
    assert report["train_pairs"] + report["heldout_pairs"] == 24 and report["heldout_pairs"] > 0
    assert report["heldout_accuracy"] >= 0.8
    assert endpoint.backend == "reward_model" and endpoint.judge_method == "reward_model"
    fresh = make_comparison(
        ["nope, not doing that", "Here is a clear explanation of how volcanoes erupt, with the key facts."],
        prompt_text="Explain how volcanoes erupt.",
    )
    judgment, _ = judge_comparison(fresh, endpoint)
    assert judgment.ranking == [[1], [0]] and judgment.reason_tags == ["order-independent"]
    assert judgment.rationale.startswith("Reward scores: A ") and 1 <= judgment.confidence <= 5
