from dataclasses import dataclass


@dataclass
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int


class GenerationError(Exception):
    """A model could not produce an answer; the message is shown to admins."""
