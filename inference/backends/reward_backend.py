"""Reward models as a backend: they score answers, they do not write them."""

from ..reward_model import RewardModelError, score
from .base import Backend, GenerationError


class RewardModelBackend(Backend):
    def generate(self, path, conversation, params=None, on_text=None, device="auto"):
        raise GenerationError("This endpoint is a reward model: it scores answers and cannot write one.")

    def score_answers(self, path, conversation, answers, device="auto"):
        prompt = "\n".join(turn["content"] for turn in conversation if turn.get("role") == "user")
        try:
            if device == "auto":
                import torch

                device = "cuda" if torch.cuda.is_available() else "cpu"
            return score(path, prompt, answers, device=device)
        except RewardModelError as exc:
            raise GenerationError(str(exc)) from exc
