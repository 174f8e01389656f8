"""Agreement figures against hand-computed values, and against reference implementations on random data."""

import numpy as np
import pytest

from annotation import queues
from annotation.agreement import campaign_agreement, cohen_kappa, fleiss_kappa, krippendorff_alpha
from tests.test_campaign_fixtures import make_campaign


def test_cohen_kappa_by_hand():
    # observed 3/4; expected 0.5·0.25 + 0.5·0.75 = 0.5; κ = (0.75 − 0.5) / 0.5
    assert cohen_kappa([0, 0, 1, 1], [0, 1, 1, 1]) == pytest.approx(0.5)
    assert cohen_kappa([1, 1], [1, 1]) is None


def test_fleiss_kappa_by_hand():
    # Fleiss (1971) / Wikipedia worked example: 10 items, 14 raters, 5 categories → κ ≈ 0.210
    table = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    assert fleiss_kappa(table) == pytest.approx(0.2099, abs=1e-4)
    with pytest.raises(ValueError, match="same number"):
        fleiss_kappa([[1, 1], [2, 1]])


def test_krippendorff_alpha_by_hand():
    # two coders, nominal: coincidences o00=2, o01=o10=1, o11=4; n=8; Do=2/8; De=2·3·5/(8·7); α = 1 − Do/De = 0.5333
    units = {u: {"x": a, "y": b} for u, (a, b) in enumerate(zip([0, 0, 1, 1], [0, 1, 1, 1]))}
    assert krippendorff_alpha(units, "nominal") == pytest.approx(1 - 0.25 / (30 / 56))


def test_against_reference_implementations_on_random_data():
    rng = np.random.default_rng(7)
    a, b = rng.integers(0, 3, 200).tolist(), rng.integers(0, 3, 200).tolist()
    sklearn = pytest.importorskip("sklearn.metrics")
    assert cohen_kappa(a, b) == pytest.approx(sklearn.cohen_kappa_score(a, b))
    # Fleiss with two raters vs the closed form on the same table (Scott's π); alpha via the library
    ratings = rng.integers(0, 4, (50, 5))
    table = np.stack([(ratings == c).sum(axis=1) for c in range(4)], axis=1)
    n, N = 5, 50
    p_j = table.sum(axis=0) / (N * n)
    P_i = ((table**2).sum(axis=1) - n) / (n * (n - 1))
    expected = (P_i.mean() - (p_j**2).sum()) / (1 - (p_j**2).sum())
    assert fleiss_kappa(table) == pytest.approx(expected)
    import krippendorff

    units = {u: {r: int(ratings[u, r]) for r in range(5)} for u in range(50)}
    assert krippendorff_alpha(units, "interval") == pytest.approx(
        krippendorff.alpha(reliability_data=ratings.T.astype(float), level_of_measurement="interval")
    )


@pytest.mark.django_db
def test_campaign_agreement_per_aspect(people, make_user):
    spec = {"aspects": [{"key": "helpful", "kind": "rating", "min": 1, "max": 3}]}
    campaign = make_campaign(people["researcher"], slug="agr", overlap=2, n_items=2, spec=spec)
    u1, u2 = people["annotator"], make_user("second")
    u2.groups.add(*u1.groups.all())
    answers = {u1: ([[0], [1]], [3, 1]), u2: ([[0], [1]], [3, 2])}
    for user, (ranking, ratings) in answers.items():
        for _ in range(2):
            a = queues.next_assignment(campaign, user)
            order = a.display_order
            screen = [[order.index(p) for p in g] for g in ranking]
            queues.submit(
                campaign,
                user,
                a.pk,
                {
                    "ranking": screen,
                    "aspects": {"helpful": {"ratings": [ratings[order[s]] for s in range(2)]}},
                },
            )
    result = campaign_agreement(campaign)
    assert result["overall"]["units"] == 2 and result["overall"]["alpha"] is None  # no variation: undefined
    assert result["helpful"]["units"] == 4
    units = {(i, p): {"a": r1, "b": r2} for i in range(2) for p, (r1, r2) in enumerate(zip([3, 1], [3, 2]))}
    assert result["helpful"]["alpha"] == pytest.approx(krippendorff_alpha(units, "interval"))
    assert result["helpful"]["fleiss_kappa"] == pytest.approx(fleiss_kappa([[0, 0, 2], [1, 1, 0]] * 2))
