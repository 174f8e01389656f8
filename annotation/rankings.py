"""What a valid tie-group ranking is: the one home of the rule (pure Python, no Django).

A ranking is a list of tie groups, best first, that together name each shown position 0..k-1 once:
``[[2], [0, 3], [1]]``. Writes check it with :func:`validate_ranking` (a sentence on failure); readers of
stored rows use :func:`parsed_ranking`, which gives None for a row written around the services."""


def validate_ranking(ranking, k):
    """Tie groups that cover positions 0..k-1 exactly once, best first, as sorted lists of ints.

    Raises ValueError with a sentence that says what is wrong."""
    if not isinstance(ranking, list) or not ranking:
        raise ValueError("The ranking must be a non-empty list of tie groups, e.g. [[0], [1]].")
    seen = []
    for group in ranking:
        if not isinstance(group, list) or not group:
            raise ValueError("Each tie group must be a non-empty list of positions, e.g. [0, 1].")
        for position in group:
            if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position < k:
                raise ValueError(f"Position {position!r} is not one of the shown positions 0..{k - 1}.")
        seen.extend(group)
    if len(seen) != len(set(seen)):
        raise ValueError("A position appears more than once in the ranking.")
    if len(seen) != k:
        missing = sorted(set(range(k)) - set(seen))
        raise ValueError(f"The ranking must place every shown response; missing positions: {missing}.")
    return [sorted(group) for group in ranking]


def parsed_ranking(ranking, k):
    """The validated ranking, or None when it is not a valid ranking of k positions (read paths skip it)."""
    try:
        return validate_ranking(ranking, k)
    except ValueError:
        return None
