"""A prompt's category, from its text, for per-category leaderboards and judge scorecards.

Chatbot Arena labels prompts with a 70B LLM; a local worker cannot afford that per
prompt, so these are transparent keyword rules (first match wins). Admins can
correct any prompt's category in the admin, and imports may set it directly."""

import re

CATEGORIES = {
    "coding": "Coding",
    "math": "Math",
    "creative": "Creative writing",
    "general": "General",
}

_RULES = [
    (
        "coding",
        re.compile(
            r"```|\b(python|javascript|typescript|java|rust|golang|c\+\+|sql|regex|bash|html|css|function|"
            r"compile|bug|stack ?trace|api|class|variable|algorithm|code)\b",
            re.I,
        ),
    ),
    (
        "math",
        re.compile(
            r"\b(solve|equation|integral|derivative|probability|prime|calculate|compute|sum of|how many|"
            r"percent|times|divided|multiply|square root)\b|\d\s*[-+*/^×÷=]\s*\d",
            re.I,
        ),
    ),
    (
        "creative",
        re.compile(
            r"\b(poem|haiku|story|stories|limerick|lyrics|song|sonnet|fiction|novel|screenplay|"
            r"write a (?:tale|fable)|name for)\b",
            re.I,
        ),
    ),
]


def categorize(text):
    """One of CATEGORIES' keys."""
    for category, pattern in _RULES:
        if pattern.search(text or ""):
            return category
    return "general"
