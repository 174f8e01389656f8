"""The pure routing library (routing/ core, no Django): budget, determinism, features, fallback, explain."""

import math
import random

import pytest

from routing import Router, agreement_by_slice, wilson_interval

FLIP = {"a": "b", "b": "a"}


def small_world(n, seed, confidence_informative=False):
    """Items where the AI is mostly wrong on the 'hard' slice and on position flips, right elsewhere.

    The AI's confidence is noise unless ``confidence_informative``: only the learned router can then
    find the AI's mistakes. People are always right here, so accuracy is easy to read."""
    rng = random.Random(seed)
    items, ai, human = [], [], []
    for _ in range(n):
        domain = rng.choice(["chat", "code", "hard"])
        flip = rng.random() < 0.15
        truth = rng.choice("ab")
        p_wrong = 0.7 if domain == "hard" or flip else 0.05
        wrong = rng.random() < p_wrong
        confidence = (0.4 if wrong else 0.9) if confidence_informative else rng.uniform(0.5, 1.0)
        items.append(
            {
                "domain": domain,
                "position_flip": flip,
                "ai_confidence": round(confidence, 3),
                "length_diff": rng.randint(-300, 300),
            }
        )
        ai.append(FLIP[truth] if wrong else truth)
        human.append(truth)
    return items, ai, human


def mix_accuracy(chosen, ai, truth):
    picked = set(chosen)
    return sum((truth[i] if i in picked else ai[i]) == truth[i] for i in range(len(truth))) / len(truth)


@pytest.fixture(scope="module")
def world():
    seed_items, seed_ai, seed_human = small_world(200, seed=1)
    items, ai, human = small_world(400, seed=2)
    return seed_items, seed_ai, seed_human, items, ai, human


def test_budget_is_never_exceeded_and_nothing_repeats_over_many_random_cases(world):
    seed_items, seed_ai, seed_human, pool_items, pool_ai, _ = world
    rng = random.Random(7)
    for case in range(300):
        n = rng.choice([0, 1, 2, 3, 5, 7, 10, 33, 100, 400])
        budget = rng.choice([0.0, 1.0, rng.random(), 0.25, 0.5, 0.125])
        audit = rng.choice([0.0, 1.0, rng.random(), 0.05])
        policy = rng.choice(["learned", "uncertainty", "random"])
        router = Router(policy=policy, budget=budget, audit=audit, seed=case)
        if case % 10 == 0:  # fitting is the slow part; the choice rules are the same after a fit
            router.fit(seed_items[:80], seed_ai[:80], seed_human[:80])
        idx = rng.sample(range(len(pool_items)), n)
        chosen = router.choose([pool_items[i] for i in idx], [pool_ai[i] for i in idx])
        assert len(chosen) == round(budget * n), (n, budget, audit, policy)  # the whole budget is spent
        assert len(set(chosen)) == len(chosen) and all(0 <= i < n for i in chosen)
        audited = [d.index for d in router.decisions if d.audit]
        assert len(audited) == round(audit * round(budget * n)) and set(audited) <= set(chosen)
        assert [d.index for d in router.decisions if d.destination == "human"] == sorted(chosen)


def test_the_same_seed_gives_the_same_choice_and_another_seed_another_draw(world):
    seed_items, seed_ai, seed_human, items, ai, _ = world

    def run(policy, seed):
        router = Router(policy=policy, budget=0.25, audit=0.2, seed=seed).fit(seed_items, seed_ai, seed_human)
        return router.choose(items, ai), [d.as_dict() for d in router.decisions], router.model_version

    for policy in ("learned", "uncertainty", "random"):
        assert run(policy, 3) == run(policy, 3)
    assert set(run("random", 3)[0]) != set(run("random", 4)[0])
    audit_3 = {d["index"] for d in run("learned", 3)[1] if d["audit"]}
    audit_4 = {d["index"] for d in run("learned", 4)[1] if d["audit"]}
    assert audit_3 != audit_4


def test_with_ids_the_choice_does_not_depend_on_the_order_of_the_items(world):
    seed_items, seed_ai, seed_human, items, ai, _ = world
    ids = [f"cmp-{i}" for i in range(len(items))]
    order = list(range(len(items)))
    random.Random(5).shuffle(order)
    for policy in ("learned", "uncertainty", "random"):
        router = Router(policy=policy, budget=0.3, audit=0.1, seed=1).fit(seed_items, seed_ai, seed_human)
        first = {ids[i] for i in router.choose(items, ai, ids=ids)}
        shuffled = router.choose(
            [items[i] for i in order], [ai[i] for i in order], ids=[ids[i] for i in order]
        )
        assert {ids[order[j]] for j in shuffled} == first


def test_missing_unknown_and_none_features_work(world):
    seed_items, seed_ai, seed_human, items, ai, _ = world
    router = Router(budget=0.5, audit=0.0).fit(seed_items, seed_ai, seed_human)
    odd = [
        {},  # nothing at all: medians for numbers, no one-hot for strings
        {"domain": "never-seen-domain", "brand_new_tag": "x", "brand_new_number": 3.5},
        {"domain": "hard", "length_diff": None, "position_flip": None},  # None is missing
        {"domain": "hard"},
        {"domain": "hard", "position_flip": True, "ai_confidence": 1},
        {"domain": "hard", "position_flip": 1, "ai_confidence": 1.0},  # booleans are 0/1
    ]
    chosen = router.choose(odd, ["a", "b", "a", "a", "b", "b"])
    assert len(chosen) == 3
    gains = [d.predicted_gain for d in router.decisions]
    assert all(0.0 <= g <= 1.0 for g in gains)
    assert gains[2] == gains[3]  # None and absent are the same thing
    assert gains[4] == gains[5]
    assert gains[4] > gains[3]  # a position flip is where this AI is wrong
    # A seed set where some items lack a number fits too, and "missing" is a signal of its own.
    sparse = [
        {k: v for k, v in item.items() if not (k == "length_diff" and i % 3 == 0)}
        for i, item in enumerate(seed_items)
    ]
    Router(budget=0.5).fit(sparse, seed_ai, seed_human).choose(items[:20], ai[:20])


def test_learned_finds_the_ai_mistakes_that_its_confidence_hides(world):
    seed_items, seed_ai, seed_human, items, ai, human = world
    accuracy = {}
    for policy in ("learned", "uncertainty", "random"):
        router = Router(policy=policy, budget=0.25, audit=0.0, seed=0).fit(seed_items, seed_ai, seed_human)
        accuracy[policy] = mix_accuracy(router.choose(items, ai), ai, human)
    all_ai = mix_accuracy([], ai, human)
    # The AI is wrong on about 40% of items, mostly in the "hard" slice or on flips: the learned router
    # spends the 25% budget there (+19 points over all-AI with these seeds); random and uncertainty
    # spend it nearly blindly (+8 and +11). The bounds leave room for solver and library changes.
    assert accuracy["learned"] >= accuracy["random"] + 0.06, accuracy
    assert accuracy["learned"] >= accuracy["uncertainty"] + 0.04, accuracy
    assert accuracy["learned"] >= all_ai + 0.12, (accuracy, all_ai)


def test_uncertainty_sends_the_least_confident_ai_labels():
    items = [{"ai_confidence": c} for c in (0.9, 0.3, 0.8, 0.5, 0.95, 0.6)]
    router = Router(policy="uncertainty", budget=0.5, audit=0.0)
    assert router.choose(items, ["a"] * 6) == [1, 3, 5]
    # A (label, confidence) pair overrides the item's feature; no confidence at all counts as 0.5.
    assert router.choose(items, [("a", 0.1)] + ["a"] * 5) == [0, 1, 3]
    assert router.choose([{}, {"ai_confidence": 0.2}, {"ai_confidence": 0.7}], ["a", "b", "tie"]) == [1, 0]
    assert router.decisions[0].ai_confidence == 0.5


@pytest.mark.parametrize("human", ["same", "opposite", "empty"])
def test_empty_or_single_class_seed_set_falls_back_to_uncertainty_and_says_so(world, human):
    seed_items, seed_ai, _, items, ai, _ = world
    if human == "empty":
        router = Router(budget=0.25).fit([], [], [])
        why = "there is no seed set"
    else:
        labels = list(seed_ai) if human == "same" else [FLIP[a] for a in seed_ai]
        router = Router(budget=0.25).fit(seed_items, seed_ai, labels)
        why = (
            "agreed with" if human == "same" else "disagreed with"
        ) + " people on every one of the 200 seed"
    assert why in router.fallback
    chosen = router.choose(items, ai)
    reference = Router(policy="uncertainty", budget=0.25).choose(items, ai)
    assert set(chosen) == set(reference)
    assert all(d.policy == "uncertainty" and d.gain_source == "AI confidence" for d in router.decisions)
    text = router.explain(chosen[0])
    assert "fell back to uncertainty" in text and why in text
    # Without any fit, learned falls back too.
    unfitted = Router(budget=0.5)
    unfitted.choose(items[:8], ai[:8])
    assert "fell back to uncertainty: there is no seed set (fit was not called)." in unfitted.explain(0)


def test_explain_reads_well_for_every_kind_of_decision(world):
    seed_items, seed_ai, seed_human, items, ai, _ = world
    router = Router(policy="learned", budget=0.25, audit=0.2, seed=0).fit(seed_items, seed_ai, seed_human)
    chosen = router.choose(items, ai)
    by_kind = {}
    for d in router.decisions:
        by_kind.setdefault((d.destination, d.audit), d)
    kept, audited = by_kind[("ai", False)], by_kind[("human", True)]
    routed = min(
        (d for d in router.decisions if d.destination == "human" and not d.audit), key=lambda d: d.rank
    )
    assert routed.index == [i for i in chosen if not router.decisions[i].audit][0]
    assert router.explain(routed.index).startswith(
        f"Item {routed.index} goes to people: the learned router predicts a "
    )
    assert f"(rank {routed.rank} of {len(items)}; 100 go to people)." in router.explain(routed.index)
    text = router.explain(kept.index)
    assert text.startswith(
        f"Item {kept.index} stays with the AI judge ('{kept.ai_label}'): the learned router predicts"
    )
    assert "of the last item sent to people" in text
    assert "random audit pick" in router.explain(audited.index) and "without bias" in router.explain(
        audited.index
    )
    for d in router.decisions:
        text = router.explain(d.index)
        assert text.endswith(".") and "  " not in text and len(text) < 400 and "nan" not in text
        assert f"{round(100 * d.predicted_gain)}% chance that a person changes" in text
    assert router.decisions[
        0
    ].model_version == router.model_version.strip() and router.model_version.startswith("routing-v1-")
    random_router = Router(policy="random", budget=0.1, audit=0.0).fit(seed_items, seed_ai, seed_human)
    picked = random_router.choose(items, ai)
    assert random_router.explain(picked[0]).startswith(
        f"Item {picked[0]} goes to people: drawn uniformly at random (40 of 400"
    )
    nothing = Router(policy="uncertainty", budget=0.0)
    nothing.choose(items[:3], ai[:3])
    assert "the human budget is 0 of 3 items" in nothing.explain(2)


def test_model_version_follows_the_seed_set_and_the_settings(world):
    seed_items, seed_ai, seed_human, *_ = world
    v1 = Router(seed=0).fit(seed_items, seed_ai, seed_human).model_version
    assert Router(seed=0).fit(seed_items, seed_ai, seed_human).model_version == v1
    assert Router(seed=0).fit(seed_items[1:], seed_ai[1:], seed_human[1:]).model_version != v1
    assert Router(seed=0, budget=0.5).fit(seed_items, seed_ai, seed_human).model_version != v1


def test_small_seed_sets_fit_robustly():
    # Two disagreements out of six: too few to calibrate, still a fitted model.
    items = [{"domain": d} for d in ("hard", "hard", "chat", "chat", "code", "code")]
    router = Router(budget=0.5, audit=0.0).fit(items, ["a"] * 6, ["b", "b", "a", "a", "a", "a"])
    assert router.fallback is None and "uncalibrated" in router.model_description
    chosen = router.choose([{"domain": "chat"}, {"domain": "hard"}], ["a", "a"])
    assert chosen == [1]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Router(policy="greedy"), "Unknown routing policy 'greedy'"),
        (lambda: Router(budget=1.5), "budget must be between 0 and 1"),
        (lambda: Router(budget=-0.1), "budget must be between 0 and 1"),
        (lambda: Router(budget=float("nan")), "budget must be a number between 0 and 1"),
        (lambda: Router(budget="0.2"), "budget must be a number"),
        (lambda: Router(audit=2), "audit share must be between 0 and 1"),
        (lambda: Router(seed=1.5), "seed must be an integer"),
        (lambda: Router(model="forest"), "Unknown gain model"),
        (lambda: Router().choose([{"x": [1, 2]}], ["a"]), "Item 0 has feature 'x' of type list"),
        (lambda: Router().choose([{"x": float("nan")}], ["a"]), "Item 0 has feature 'x' = nan"),
        (lambda: Router().choose(["x"], ["a"]), "Item 0 must be a dict of features"),
        (lambda: Router().choose({"x": 1}, ["a"]), "The items must be a list"),
        (lambda: Router().choose([{}, {}], ["a"]), "There are 2 items but 1 AI labels"),
        (
            lambda: Router().choose([{}], ["A"]),
            "The AI label of item 0 must be one of 'a', 'b' or 'tie'; got 'A'",
        ),
        (
            lambda: Router().choose([{}], [("a", 1.5)]),
            "AI confidence of item 0 must be a number between 0 and 1",
        ),
        (lambda: Router().choose([{"ai_confidence": "high"}], ["a"]), "feature 'ai_confidence' of item 0"),
        (lambda: Router().choose([{}], [("a", 0.5, 1)]), "a label or a (label, confidence) pair"),
        (lambda: Router().choose([{}, {}], ["a", "b"], ids=[1, 1]), "ids must be unique"),
        (lambda: Router().fit([{}], ["a"], [float("nan")]), "The human label of item 0 must be one of"),
        (lambda: Router().fit([{}], ["a"], ["a", "b"]), "There are 1 items but 2 human labels"),
        (lambda: Router().explain(0), "call choose() first"),
        (lambda: agreement_by_slice(["x"], ["a"], ["c"]), "The human label of item 0"),
        (lambda: wilson_interval(1, 0), "at least one item"),
    ],
)
def test_bad_input_raises_a_value_error_that_names_the_problem(make, message):
    with pytest.raises(ValueError) as error:
        make()
    assert message in str(error.value)
    assert str(error.value).endswith(".")


def test_explain_of_an_item_outside_the_last_call_is_refused():
    router = Router(policy="uncertainty", budget=0.5)
    router.choose([{}, {}], ["a", "b"])
    with pytest.raises(ValueError, match="Item 2 is not in the last choose"):
        router.explain(2)


def test_agreement_by_slice_counts_each_slice_with_a_wilson_interval():
    slices = ["code"] * 10 + [["chat", "safety=high"]] * 4 + [None]
    ai = ["a"] * 7 + ["b"] * 3 + ["a", "a", "tie", "b"] + ["a"]
    human = ["a"] * 10 + ["a", "b", "tie", "b"] + ["b"]
    result = agreement_by_slice(slices, ai, human)
    assert list(result) == ["chat", "code", "safety=high"]
    rate, lo, hi, n = result["code"]
    assert (rate, n) == (0.7, 10)
    assert math.isclose(lo, 0.3968, abs_tol=1e-3) and math.isclose(hi, 0.8922, abs_tol=1e-3)
    assert result["chat"] == result["safety=high"] and result["chat"].agree_rate == 0.75
    assert result["chat"].lo < 0.75 < result["chat"].hi
    assert wilson_interval(0, 5)[0] == 0.0 and wilson_interval(5, 5)[1] == 1.0
