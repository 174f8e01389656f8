"""Inter-annotator agreement: Krippendorff's alpha (the `krippendorff` library), Fleiss' kappa and
Cohen's kappa (closed forms, checked in the tests against hand-computed values and scikit-learn /
statsmodels where installed), and the campaign-level figures built from stored judgments.

Units: an overall or per-aspect *ranking* becomes one unit per pair of positions (i < j) of an item,
labelled -1 (i ahead), 0 (tie) or +1 (j ahead); a *rating* aspect one unit per (item, position)."""

import itertools
import math
from collections import Counter, defaultdict

import krippendorff
import numpy as np

from .models import Assignment, CampaignItem


def cohen_kappa(a, b):
    """Cohen's kappa for two raters' labels on the same units; None when undefined (one label only)."""
    if len(a) != len(b) or not a:
        raise ValueError("Cohen's kappa needs two equally long, non-empty label lists.")
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[label] * cb[label] for label in set(ca) | set(cb)) / (n * n)
    if expected == 1:
        return None
    return (observed - expected) / (1 - expected)


def fleiss_kappa(table):
    """Fleiss' kappa from an items × categories table of counts, every row summing to the same n ≥ 2."""
    table = np.asarray(table, dtype=float)
    if table.ndim != 2 or table.shape[0] == 0:
        raise ValueError("Fleiss' kappa needs a non-empty items × categories table.")
    n = table.sum(axis=1)
    if not np.all(n == n[0]) or n[0] < 2:
        raise ValueError("Every item needs the same number (≥ 2) of ratings for Fleiss' kappa.")
    n = n[0]
    p_j = table.sum(axis=0) / table.sum()
    p_i = ((table * table).sum(axis=1) - n) / (n * (n - 1))
    p_bar, p_e = p_i.mean(), (p_j * p_j).sum()
    if p_e == 1:
        return None
    return float((p_bar - p_e) / (1 - p_e))


def krippendorff_alpha(units, level="nominal"):
    """units: {unit: {rater: value}}; None when there is nothing pairable or no variation."""
    units = {u: r for u, r in units.items() if len(r) >= 2}
    if not units:
        return None
    raters = sorted({rater for ratings in units.values() for rater in ratings})
    keys = sorted(units, key=str)
    data = np.full((len(raters), len(keys)), np.nan)
    index = {r: i for i, r in enumerate(raters)}
    for j, unit in enumerate(keys):
        for rater, value in units[unit].items():
            data[index[rater], j] = value
    values = set(np.unique(data[~np.isnan(data)]))
    if len(values) < 2:
        return None
    alpha = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
    return None if math.isnan(alpha) else float(alpha)


def _pair_label(ranking, i, j):
    rank = {p: r for r, group in enumerate(ranking) for p in group}
    return (rank[i] > rank[j]) - (rank[i] < rank[j])


def campaign_units(campaign):
    """{aspect: (kind, {unit: {annotator_id: value}})} from the campaign's regular submitted judgments."""
    rows = (
        Assignment.objects.filter(
            item__campaign=campaign, item__kind=CampaignItem.Kind.REGULAR, status=Assignment.Status.SUBMITTED
        )
        .select_related("judgment")
        .order_by("submitted_at")
    )
    aspects = {"overall": ("ranking", defaultdict(dict))}
    for aspect in campaign.rubric.spec.get("aspects", []):
        aspects[aspect["key"]] = (aspect["kind"], defaultdict(dict))
    k = campaign.k
    for row in rows:
        judgment = row.judgment
        answers = {"overall": {"ranking": judgment.ranking}, **(judgment.aspects or {})}
        for key, (kind, units) in aspects.items():
            answer = answers.get(key)
            if not answer:
                continue
            if kind == "ranking" and "ranking" in answer:
                for i, j in itertools.combinations(range(k), 2):
                    units[(row.item_id, i, j)][row.annotator_id] = _pair_label(answer["ranking"], i, j)
            elif kind == "rating" and "ratings" in answer:
                for position, value in enumerate(answer["ratings"]):
                    units[(row.item_id, position)][row.annotator_id] = value
    return aspects


def _fleiss_from_units(units, n):
    if n < 2:
        return None
    rows = [list(r.values())[:n] for r in units.values() if len(r) >= n]
    if not rows:
        return None
    categories = sorted({v for row in rows for v in row})
    table = [[row.count(c) for c in categories] for row in rows]
    try:
        return fleiss_kappa(table)
    except ValueError:
        return None


def _mean_pairwise_cohen(units, minimum_shared=5):
    by_rater = defaultdict(dict)
    for unit, ratings in units.items():
        for rater, value in ratings.items():
            by_rater[rater][unit] = value
    kappas = []
    for r1, r2 in itertools.combinations(sorted(by_rater), 2):
        shared = sorted(set(by_rater[r1]) & set(by_rater[r2]), key=str)
        if len(shared) >= minimum_shared:
            kappa = cohen_kappa([by_rater[r1][u] for u in shared], [by_rater[r2][u] for u in shared])
            if kappa is not None:
                kappas.append(kappa)
    return (sum(kappas) / len(kappas) if kappas else None), len(kappas)


def campaign_agreement(campaign):
    """Per aspect: alpha (ordinal for rankings, interval for ratings), Fleiss' kappa on items with at least
    `overlap` judgments, mean pairwise Cohen's kappa over annotator pairs sharing ≥ 5 units, unit count."""
    out = {}
    for key, (kind, units) in campaign_units(campaign).items():
        paired = {u: r for u, r in units.items() if len(r) >= 2}
        cohen, pairs = _mean_pairwise_cohen(paired)
        out[key] = {
            "kind": kind,
            "units": len(paired),
            "alpha": krippendorff_alpha(paired, "ordinal" if kind == "ranking" else "interval"),
            "fleiss_kappa": _fleiss_from_units(paired, campaign.overlap),
            "cohen_kappa_mean": cohen,
            "cohen_pairs": pairs,
        }
    return out


def _top(ranking):
    return frozenset(ranking[0]) if ranking else frozenset()


def agreement_with_others(annotator, campaign=None):
    """(agreed, shared): on items others also judged, how often the annotator's top group matches the
    others' most common top group (items where the others split evenly are left out)."""
    mine = Assignment.objects.filter(
        annotator=annotator, status=Assignment.Status.SUBMITTED, item__kind="regular"
    )
    if campaign is not None:
        mine = mine.filter(item__campaign=campaign)
    mine = dict(mine.values_list("item_id", "judgment__ranking"))
    if not mine:
        return 0, 0
    others = defaultdict(list)
    for item_id, ranking in (
        Assignment.objects.filter(item_id__in=mine, status=Assignment.Status.SUBMITTED)
        .exclude(annotator=annotator)
        .values_list("item_id", "judgment__ranking")
    ):
        others[item_id].append(_top(ranking))
    agreed = shared = 0
    for item_id, tops in others.items():
        ranked = Counter(tops).most_common(2)
        if len(ranked) == 2 and ranked[0][1] == ranked[1][1]:
            continue  # the others are split evenly: no majority to agree with
        majority = ranked[0][0]
        shared += 1
        agreed += int(_top(mine[item_id]) == majority)
    return agreed, shared
