"""Per-language and hard-prompt boards (issue 14 §5): the language is detected by a small library
(profiles inside the package, nothing downloaded), hardness by length and the tagger's complexity rule,
and the rating glue keeps a board for each."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from annotation.services import create_comparison, record_judgment
from inference.languages import complexity, detect_language, is_hard
from inference.models import ModelEndpoint, Response
from inference.services import create_prompt
from ranking.glue import refits
from ranking.selectors import latest_snapshot, rated_categories

FRENCH = "Quelle est la capitale de la France et pourquoi est-elle si célèbre ?"
HARD = (
    "Compare quicksort and mergesort? Explain each step of both? Then prove their running times? "
    + "Please explain the reasoning carefully, with an example for the worst case of each one. " * 6
)


def test_languages_and_hardness_from_the_text():
    assert detect_language(FRENCH) == "fr"
    assert detect_language("What is the capital of France, and why is it famous?") == "en"
    assert detect_language("Wie spät ist es heute in Berlin, bitte?") == "de"
    assert detect_language("hi") == "" and detect_language("12345 + 678 = ?") == ""
    assert complexity("Name a colour.") == "simple" and complexity(HARD) == "complex"
    assert is_hard(HARD) and is_hard("x" * 600) and not is_hard("Name a colour.")


@pytest.mark.django_db
def test_a_board_per_language_and_for_hard_prompts(client, make_user, tiny_model_dirs):
    ada = make_user("ada")
    first, second = (
        ModelEndpoint.objects.create(name=n, path=str(tiny_model_dirs[0])) for n in ("left-m", "right-m")
    )

    def vote(text, winner):
        prompt = create_prompt(text, user=ada)
        answers = [
            Response.objects.create(prompt=prompt, endpoint=e, status="done", text="ok")
            for e in (first, second)
        ]
        ranking = [[0], [1]] if winner == first else [[1], [0]]
        record_judgment(create_comparison(prompt, answers), ranking, annotator=ada, identities_hidden=True)
        return prompt

    french = vote(FRENCH, first)
    assert french.language == "fr" and not french.hard
    hard = vote(HARD, second)
    assert hard.language == "en" and hard.hard
    vote("What is the capital of France, and why is it famous?", first)
    refits.refit(bootstrap=0)

    assert {"lang:fr", "lang:en", "hard"} <= set(rated_categories())
    assert latest_snapshot("bt", category="lang:fr").judgment_count == 1
    assert latest_snapshot("bt", category="lang:en").judgment_count == 2
    hard_board = latest_snapshot("bt", category="hard")
    assert hard_board.judgment_count == 1 and hard_board.rows[0]["model"] == "right-m"

    page = client.get(reverse("arena:leaderboard"), {"category": "lang:fr"}).content.decode()
    assert '<option value="lang:fr" selected>Language: French</option>' in page
    assert "French prompts only" in page and "Hard prompts (long or complex)" in page
    api = APIClient()
    board = api.get("/api/leaderboard/", {"category": "hard"}).json()
    assert board["judgment_count"] == 1 and board["rows"][0]["model"] == "right-m"
    bad = api.get("/api/leaderboard/", {"category": "lang:???"})
    assert bad.status_code == 400 and "lang:<code>" in str(bad.json())
