"""Quality control: gold and attention checks, annotator standing, and reliability other rooms can read."""

from django.db.models import Count, Q

from .models import AnnotatorStanding, Assignment, CampaignItem
from .rankings import validate_ranking


def _strict_pairs(ranking):
    """(better, worse) position pairs that a ranking orders strictly."""
    pairs = set()
    for i, group in enumerate(ranking):
        for lower in ranking[i + 1 :]:
            pairs.update((a, b) for a in group for b in lower)
    return pairs


def matches_expected(ranking, expected):
    """A check passes when every strict order in the expected ranking is kept (ties in it leave freedom)."""
    got = _strict_pairs(ranking)
    return all(pair in got for pair in _strict_pairs(expected))


def grade_check(assignment, ranking):
    """For gold/attention items: record pass/fail and update the annotator's standing (warn, then pause)."""
    item = assignment.item
    if item.kind == CampaignItem.Kind.REGULAR:
        return None
    passed = matches_expected(ranking, item.expected_ranking)
    assignment.check_passed = passed
    campaign = item.campaign
    standing, _ = AnnotatorStanding.objects.select_for_update().get_or_create(
        campaign=campaign, annotator=assignment.annotator
    )
    standing.checks += 1
    standing.passed += int(passed)
    if standing.state != AnnotatorStanding.State.PAUSED and standing.checks >= campaign.gold_min_checks:
        accuracy = standing.passed / standing.checks
        if accuracy < campaign.gold_pause_below:
            standing.state = AnnotatorStanding.State.PAUSED
        elif accuracy < campaign.gold_warn_below:
            standing.state = AnnotatorStanding.State.WARNED
        else:
            standing.state = AnnotatorStanding.State.OK
    standing.save()
    return passed


def ungrade_check(assignment):
    """Undo of a submission on a check item takes its result back out of the standing."""
    if assignment.check_passed is None:
        return
    standing = (
        AnnotatorStanding.objects.select_for_update()
        .filter(campaign=assignment.item.campaign, annotator=assignment.annotator)
        .first()
    )
    if standing and standing.checks:
        standing.checks -= 1
        standing.passed -= int(assignment.check_passed)
        standing.save()
    assignment.check_passed = None


def standing_of(campaign, annotator):
    return AnnotatorStanding.objects.filter(campaign=campaign, annotator=annotator).first()


def gold_accuracy(annotator, campaign=None):
    """(passed, checks) on gold and attention items, in one campaign or all."""
    rows = Assignment.objects.filter(annotator=annotator, check_passed__isnull=False)
    if campaign is not None:
        rows = rows.filter(item__campaign=campaign)
    result = rows.aggregate(checks=Count("id"), passed=Count("id", filter=Q(check_passed=True)))
    return result["passed"], result["checks"]


def annotator_reliability(annotator, campaign=None, prior_strength=2.0):
    """A number in [0, 1] other rooms may read (ranking weights, export filters); None with no evidence.

    It is the annotator's accuracy on gold and attention checks, blended with their agreement with
    the other annotators' majority on shared items (the share of co-judged comparisons where their top
    choice matches the most common top choice of the others), each shrunk toward 0.5 by a Beta prior of
    ``prior_strength`` pseudo-observations, and weighted by how many observations each has."""
    from .agreement import agreement_with_others

    passed, checks = gold_accuracy(annotator, campaign)
    agreed, shared = agreement_with_others(annotator, campaign)
    total = checks + shared
    if total == 0:
        return None
    half = prior_strength / 2
    return (passed + agreed + half) / (total + prior_strength)


def adjudicate(item, user, ranking, note=""):
    """A reviewer's final ranking (comparison positions) for an item; replaces an earlier adjudication."""
    from django.db import transaction

    from .campaigns import require_manage
    from .models import Adjudication

    require_manage(user, item.campaign)
    ranking = validate_ranking(ranking, item.comparison.k)
    with transaction.atomic():
        adjudication, _ = Adjudication.objects.update_or_create(
            item=item, defaults={"ranking": ranking, "note": (note or "").strip(), "adjudicator": user}
        )
    return adjudication


def reopen_annotator(campaign, annotator, user):
    """A researcher lifts a quality pause (the counts stay; the next failed check can pause again)."""
    from .campaigns import require_manage

    require_manage(user, campaign)
    AnnotatorStanding.objects.filter(campaign=campaign, annotator=annotator).update(
        state=AnnotatorStanding.State.OK
    )


def save_profile(user, *, opted_in, expertise="", languages="", demographics=None):
    from .models import AnnotatorProfile

    demographics = demographics or {}
    if not isinstance(demographics, dict) or not all(
        isinstance(v, str) and len(v) <= 200 for v in demographics.values()
    ):
        raise ValueError("Profile fields must be short texts.")
    profile, _ = AnnotatorProfile.objects.update_or_create(
        user=user,
        defaults={
            "opted_in": bool(opted_in),
            "expertise": expertise[:300],
            "languages": languages[:300],
            "demographics": demographics if opted_in else {},
        },
    )
    return profile


def _pair_orders(ranking, k):
    """For every pair of positions i < j: -1 (i ahead), 0 (tie) or +1 (j ahead)."""
    rank = {p: r for r, group in enumerate(ranking) for p in group}
    return [(rank[i] > rank[j]) - (rank[i] < rank[j]) for i in range(k) for j in range(i + 1, k)]


def self_consistency(annotator, campaign=None):
    """How consistent an annotator is with themself on repeated items (Campaign.repeat_rate).

    Returns {"repeats", "same_top", "same_pairs"}: over the submitted repeats (comparison positions, so the
    new display order does not matter), the share where the top tie group is the same as in the original
    judgment, and the share of position pairs (i < j) put in the same order (ahead / tie / behind).
    The shares are None while there is no submitted repeat."""
    from .models import RepeatCheck

    rows = RepeatCheck.objects.filter(
        annotator=annotator, status=RepeatCheck.Status.SUBMITTED
    ).select_related("original__judgment", "item__comparison")
    if campaign is not None:
        rows = rows.filter(item__campaign=campaign)
    repeats = same_top = pairs = same_pairs = 0
    for row in rows:
        original = row.original.judgment
        if original is None:  # the original was undone after the repeat was served
            continue
        k = row.item.comparison.k
        repeats += 1
        same_top += int(sorted(original.ranking[0]) == sorted(row.ranking[0]))
        before, after = _pair_orders(original.ranking, k), _pair_orders(row.ranking, k)
        pairs += len(before)
        same_pairs += sum(a == b for a, b in zip(before, after))
    return {
        "repeats": repeats,
        "same_top": same_top / repeats if repeats else None,
        "same_pairs": same_pairs / pairs if pairs else None,
    }
