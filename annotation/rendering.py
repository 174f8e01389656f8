"""How an answer is shown to the person judging it: exactly as stored (``plain``), as sanitised Markdown
(``markdown``), or chosen per answer (``auto``).

A campaign builds a dataset, so what an annotator reads must be what the export writes. Markdown can hide
characters (``17*20=340, 17*3=51`` loses its asterisks to an ``<em>``), so ``plain`` is the campaigns'
default and ``auto`` renders Markdown only when an answer clearly is Markdown and nothing in it reads as an
ambiguous emphasis (see ``looks_like_markdown``). Every answer also carries its other view behind a
"show source" / "show formatted" toggle (templates/_answer.html, static/js/answers.js).

Markdown is CommonMark (markdown-it-py) with GFM tables and strikethrough, ``$…$``/``$$…$$`` math left
as TeX for KaTeX in the browser (static/vendor/katex), raw HTML escaped (so whatever a model writes shows
as text), images off (no request leaves the page), then the nh3 allow-list sanitiser."""

import re
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

PLAIN, MARKDOWN, AUTO = "plain", "markdown", "auto"
DISPLAY_MODES = (PLAIN, MARKDOWN, AUTO)

_md = (
    MarkdownIt("commonmark", {"html": False, "breaks": True})
    .enable(["table", "strikethrough"])
    .disable("image")
    .use(dollarmath_plugin, allow_space=False, allow_digits=False, double_inline=True)
)

# Math spans keep only the classes answers.js typesets; everything else loses its class.
_CLASSES = {"span": {"math", "inline"}, "div": {"math", "inline", "block"}}


@lru_cache(
    maxsize=128
)  # every annotator of an item, and every poll of a finished battle, renders the same text
def render_markdown_inert(text):
    """Markdown → sanitised HTML; HTML written in the text shows as text."""
    return nh3.clean(
        _md.render(text or ""), link_rel="noopener noreferrer nofollow", allowed_classes=_CLASSES
    )


# --- auto: is this answer clearly Markdown? --------------------------------

# An asterisk between two word characters ("17*3", "a*b") is arithmetic or a wildcard as often as
# emphasis; Markdown would eat it, so such an answer is shown plain.
_AMBIGUOUS = re.compile(r"\w\*+\w")
_SIGNALS = [
    re.compile(r"^ {0,3}(```|~~~)", re.M),  # a fenced code block
    re.compile(r"^ {0,3}#{1,6} \S", re.M),  # an ATX heading
    re.compile(
        r"^ {0,3}([-*+]|\d{1,3}[.)]) \S.*\n {0,3}([-*+]|\d{1,3}[.)]) \S", re.M
    ),  # a list of two or more
    re.compile(r"(^|\s)\*\*[^*\s][^*\n]*[^*\s]\*\*(\s|[.,;:!?)]|$)", re.M),  # **bold** between spaces
    re.compile(r"(^|\s)`[^`\n]+`(\s|[.,;:!?)]|$)", re.M),  # `inline code`
    re.compile(r"\[[^\]\n]+\]\(https?://[^)\s]+\)"),  # [a link](https://…)
    re.compile(r"^ {0,3}\$\$\s*$", re.M),  # display math
]


# A GFM table's delimiter row ("|---|:--:|"); the header row above it must hold a "|" (checked line by line:
# one regex over both lines backtracks quadratically on a long line of pipes).
_TABLE_DELIMITER = re.compile(r" {0,3}\|? *:?-{3,}:? *(?:\| *:?-{3,}:? *)*\|? *")


def _has_table(text):
    lines = text.splitlines()
    return any(
        "|" in lines[i - 1] and "|" in line and _TABLE_DELIMITER.fullmatch(line)
        for i, line in enumerate(lines)
        if i and "-" in line
    )


def looks_like_markdown(text):
    """The ``auto`` rule, conservative: Markdown only when the answer has at least one construct that is
    Markdown and nothing else (a code fence, a heading, a list of two or more items, a table, **bold**
    between spaces, `code`, a [link](https://…), a ``$$`` block), and no asterisk between two word
    characters outside code (``17*3``, ``a*b``), which Markdown could take for emphasis where the writer
    meant the character. When unsure, plain."""
    text = text or ""
    outside_code = re.sub(r"^ {0,3}(```|~~~).*?^ {0,3}\1", "", text, flags=re.M | re.S)
    outside_code = re.sub(r"`[^`\n]+`", "", outside_code)
    if _AMBIGUOUS.search(re.sub(r"\*\*[^*\s][^*\n]*[^*\s]\*\*", "", outside_code)):
        return False
    return _has_table(text) or any(signal.search(text) for signal in _SIGNALS)


def shown_mode(text, mode):
    """``plain`` or ``markdown``: the view an answer opens in under a campaign's or arena's mode."""
    if mode not in DISPLAY_MODES:
        raise ValueError(f"Unknown display mode {mode!r}; use one of {', '.join(DISPLAY_MODES)}.")
    if mode == AUTO:
        return MARKDOWN if looks_like_markdown(text) else PLAIN
    return mode
