"""The judging and reward-training commands, on real tiny models."""

import pytest
from django.core.management import CommandError, call_command

from annotation.models import Judgment
from inference.models import ModelEndpoint

pytestmark = pytest.mark.django_db


def test_judge_comparisons_judges_each_once(tiny_model_dirs, make_comparison, capsys):
    ModelEndpoint.objects.create(
        name="tiny-judge",
        path=str(tiny_model_dirs[1]),
        judge_method="llm",
        judge_settings={"confidence": "likelihood"},
    )
    make_comparison(["the sun is warm", "the moon is cold"])
    make_comparison(["red", "blue"])
    call_command("judge_comparisons", verbosity=0)
    assert "2 new verdicts" in capsys.readouterr().out
    assert Judgment.objects.filter(source="ai").count() == 2
    call_command("judge_comparisons", verbosity=0)
    assert "0 new verdicts, 2 already there" in capsys.readouterr().out


def test_judge_comparisons_says_what_is_missing():
    with pytest.raises(CommandError, match="No enabled AI judge"):
        call_command("judge_comparisons")
    with pytest.raises(CommandError, match="No enabled judge named ghost"):
        call_command("judge_comparisons", judge=["ghost"])


def test_train_reward_judge_needs_data():
    with pytest.raises(CommandError, match="at least 10 are needed"):
        call_command("train_reward_judge")
    with pytest.raises(CommandError, match="between 0 and 1"):
        call_command("train_reward_judge", heldout_fraction=1.5)
