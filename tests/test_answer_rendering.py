"""Answers render as Markdown and whatever HTML a model writes stays inert."""

from html.parser import HTMLParser

import pytest

from arena.templatetags.answers import render_answer


class _Elements(HTMLParser):
    def __init__(self, html):
        super().__init__()
        self.elements = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


def test_markdown_renders():
    html = render_answer("Tips:\n\n1. **Sleep** early\n2. Use `code`\n\n```\nx = 1\n```")
    assert "<strong>Sleep</strong>" in html and "<ol>" in html and "<code>code</code>" in html and "<pre>" in html


@pytest.mark.parametrize(
    "evil",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "<iframe src='https://example.org'></iframe>",
        "[click](javascript:alert(1))",
        '<a href="#" onclick="alert(1)">x</a>',
        "<style>body{display:none}</style>",
    ],
)
def test_html_from_a_model_is_inert(evil):
    html = render_answer(f"before {evil} after")
    elements = _Elements(html).elements
    assert {tag for tag, _ in elements} <= {"p", "a"}, html
    for _, attrs in elements:
        assert not any(name.startswith("on") or name in ("style", "src") for name in attrs), html
        assert not attrs.get("href", "").strip().lower().startswith("javascript:"), html
    assert "before" in html and "after" in html
