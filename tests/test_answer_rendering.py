"""Display fidelity: plain shows the exact text, markdown is sanitised and loses no characters outside
markup, auto picks markdown only for answers that clearly are markdown. The same tricky contents are
checked in a real Chromium in tests/browser/test_answer_display_browser.py."""

import re
from html.parser import HTMLParser

import pytest
from django.template import Context, Template

from annotation.rendering import looks_like_markdown, render_markdown_inert, shown_mode

# Contents that break naive rendering; the browser test uses the same list.
TRICKY = {
    "arithmetic": "(17*20=340, 17*3=51)",
    "underscores": "snake_case_name, __init__ and _maybe_ *star* 2*x",
    "html": "<script>window.pwned=1</script><b>not bold</b> & <img src=x onerror=alert(1)>",
    "dollars": "Costs $5 or $10; Euler: $e^{i\\pi}+1=0$ and $$\\sum_{k=1}^n k$$",
    "fence": "Run:\n\n```python\nprint('<div>' + 2*'**')\n```\n\nDone.",
    "long line": "x" * 2500 + " " + "https://example.org/" + "a/" * 400,
    "rtl": "שלום עולם — مرحبا بالعالم 123 (abc)",
    "emoji": "👩‍👩‍👧 family, 🇺🇳 flag, ✅ done, e\u0301 combining",
    "whitespace": "  two leading spaces\n\n\ttab\tinside\n   three trailing   \nend",
    "table": "| a | b |\n|---|---|\n| 1 | 2*3 |",
}

# What Markdown may consume: its markup characters, list markers, table delimiter rows, link targets.
MARKUP = set("*_`#|~$\\")


def visible_source(text):
    """The characters of ``text`` a reader must still find, in order, in its rendered form."""
    text = re.sub(r"^ {0,3}\|?[ :|-]*-{3,}[ :|-]*$", "", text, flags=re.M)  # table delimiter rows
    text = re.sub(r"^ {0,3}(```|~~~)\S*$", "", text, flags=re.M)  # fence lines and their info string
    text = re.sub(r"^ {0,3}([-*+]|\d{1,9}[.)]) ", "", text, flags=re.M)  # list markers
    text = re.sub(r"\]\([^)]*\)", "]", text)  # link destinations
    return [c for c in text if not c.isspace() and c not in MARKUP]


def is_subsequence(needle, haystack):
    it = iter(haystack)
    return all(c in it for c in needle)


class _Text(HTMLParser):
    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.elements, self.chunks = [], []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.chunks.append(data)

    @property
    def text(self):
        return "".join(self.chunks)


def test_markdown_renders_code_tables_and_math_spans():
    html = render_markdown_inert(
        "Tips:\n\n1. **Sleep** early\n2. Use `code`\n\n```\nx = 1\n```\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n\nMath $x_1^2$ and\n\n$$\n\\frac{a}{b}\n$$"
    )
    assert (
        "<strong>Sleep</strong>" in html
        and "<ol>" in html
        and "<code>code</code>" in html
        and "<pre>" in html
    )
    assert "<table>" in html and "<td>2</td>" in html
    assert '<span class="math inline">x_1^2</span>' in html and '<div class="math block">' in html


@pytest.mark.parametrize(
    "evil",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "<iframe src='https://example.org'></iframe>",
        "[click](javascript:alert(1))",
        '<a href="#" onclick="alert(1)">x</a>',
        "<style>body{display:none}</style>",
        "![tracker](https://example.org/pixel.png)",
    ],
)
def test_html_from_a_model_is_inert(evil):
    html = render_markdown_inert(f"before {evil} after")
    elements = _Text(html).elements
    assert {tag for tag, _ in elements} <= {"p", "a"}, html
    for _, attrs in elements:
        assert not any(name.startswith("on") or name in ("style", "src") for name in attrs), html
        assert not attrs.get("href", "").strip().lower().startswith("javascript:"), html
    assert "before" in html and "after" in html


@pytest.mark.parametrize("name", list(TRICKY))
def test_markdown_loses_no_character_outside_markup(name):
    text = TRICKY[name]
    rendered = [c for c in _Text(render_markdown_inert(text)).text if not c.isspace()]
    assert is_subsequence(visible_source(text), rendered), render_markdown_inert(text)


@pytest.mark.parametrize("name", list(TRICKY))
def test_the_plain_view_holds_the_exact_text(name):
    text = TRICKY[name]
    html = Template('{% load answer_display %}{% answer text "plain" %}').render(Context({"text": text}))
    plain = re.search(r'<div class="answer view-plain" dir="auto">(.*?)</div>\n', html, re.S).group(1)
    assert _Text(plain).text == text and not _Text(plain).elements
    assert 'class="answer view-markdown" dir="auto" hidden' in html  # the other view waits behind the toggle


@pytest.mark.parametrize(
    ("text", "markdown"),
    [
        ("(17*20=340, 17*3=51)", False),  # the reported bug: shown as typed
        ("# Plan\n\n- one\n- two\n\nTotal 2*3", False),  # markdown, but an asterisk would be eaten
        ("Here:\n\n```python\nprint(2*3)\n```", True),  # the asterisk is inside code
        ("# Plan\n\nDo it.", True),
        ("- one\n- two", True),
        ("| a | b |\n|---|---|\n| 1 | 2 |", True),
        ("It is **very** good.", True),
        ("Call `f()` first.", True),
        ("See [the docs](https://example.org).", True),
        ("$$\nx^2\n$$", True),
        ("Just a sentence, with a_b and *maybe* one star.", False),  # no clear sign: plain
        ("Price: $5 or $10", False),
        ("", False),
    ],
)
def test_auto_renders_markdown_only_when_the_answer_clearly_is(text, markdown):
    assert looks_like_markdown(text) is markdown
    assert shown_mode(text, "auto") == ("markdown" if markdown else "plain")
    assert shown_mode(text, "plain") == "plain" and shown_mode(text, "markdown") == "markdown"


def test_an_unknown_mode_is_refused_with_a_sentence():
    with pytest.raises(ValueError, match="Unknown display mode 'html'"):
        shown_mode("x", "html")


@pytest.mark.django_db
def test_the_database_refuses_an_unknown_display_mode(make_user):
    from django.db import IntegrityError

    from tests.test_campaign_fixtures import add_role, make_campaign

    campaign = make_campaign(add_role(make_user("rita"), "researcher"), n_items=0)
    assert campaign.display_mode == "plain"
    campaign.display_mode = "html"
    with pytest.raises(IntegrityError):
        campaign.save()


@pytest.mark.parametrize("text", ["|" * 100_000, "|---" * 25_000 + "|", "a*" * 50_000, " " * 100_000 + "x"])
def test_auto_reads_adversarial_long_answers_in_one_pass(text):
    # a regex that backtracks quadratically made the first of these take 15 s (bench/bench_answer_display.py)
    assert looks_like_markdown(text) is False
