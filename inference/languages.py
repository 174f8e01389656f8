"""A prompt's language and whether it is a hard prompt, from its text, for per-language and
hard-prompt leaderboards.

Language: langdetect (a port of Google's language-detection; its profiles ship inside the
package, nothing is downloaded), seeded so a text always gets the same answer. Hard: a long
prompt, or one the heuristic tagger would call complex (many words, or several asks) — the
rule routing's prompt tags use, so the board and the router agree on what "hard" is."""

import re
import threading

MIN_LETTERS = 12  # shorter texts are too short to tell a language by
HARD_PROMPT_CHARS = 500
_lock = threading.Lock()
_factory_ready = False

LANGUAGE_NAMES = {
    "en": "English",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "ru": "Russian",
    "uk": "Ukrainian",
    "pl": "Polish",
    "cs": "Czech",
    "sv": "Swedish",
    "tr": "Turkish",
    "ar": "Arabic",
    "he": "Hebrew",
    "fa": "Persian",
    "hi": "Hindi",
    "bn": "Bengali",
    "zh-cn": "Chinese (simplified)",
    "zh-tw": "Chinese (traditional)",
    "ja": "Japanese",
    "ko": "Korean",
    "vi": "Vietnamese",
    "th": "Thai",
    "id": "Indonesian",
}


def detect_language(text):
    """An ISO 639-1 code (e.g. "en", "zh-cn"), or "" when the text is too short or has no letters."""
    global _factory_ready
    text = text or ""
    if sum(ch.isalpha() for ch in text) < MIN_LETTERS:
        return ""
    from langdetect import DetectorFactory, detect
    from langdetect.lang_detect_exception import LangDetectException

    with _lock:  # the factory is global; seed it once, and detect one text at a time
        if not _factory_ready:
            DetectorFactory.seed = 0
            _factory_ready = True
        try:
            return detect(text)
        except LangDetectException:
            return ""


def complexity(text):
    """simple, moderate or complex: many words or several asks make a prompt complex."""
    text = text or ""
    words = len(text.split())
    asks = text.count("?") + len(
        re.findall(r"\b(and then|also|then|additionally|each|every|compare)\b", text, re.I)
    )
    return "complex" if words > 80 or asks >= 3 else ("moderate" if words > 25 or asks >= 1 else "simple")


def is_hard(text):
    """A hard prompt: long, or complex by the tagger's rule."""
    return len(text or "") >= HARD_PROMPT_CHARS or complexity(text) == "complex"


def language_name(code):
    return LANGUAGE_NAMES.get(code, code)
