"""What one export asks for: its format, its policies and its filters.

Every way in (the management command, the API, the page) builds an
``ExportOptions`` with ``parse_options``, so a bad choice gets the same sentence
wherever it comes from. Pure Python: no Django import."""

from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, date, datetime, time

FORMATS = ("dpo", "dpo-chat", "reward", "kto", "listwise", "ratings")
PAIR_FORMATS = ("dpo", "dpo-chat", "reward", "kto")
MARGIN_FORMATS = ("dpo", "dpo-chat", "reward")
FILE_FORMATS = ("jsonl", "parquet", "both")
TIE_POLICIES = ("drop", "kto-negative", "margin-zero")
RANK_BREAKING = ("all-pairs", "best-vs-rest", "adjacent")
AGGREGATIONS = ("none", "majority", "weighted")
SOURCES = ("human", "ai", "both", "routed")
MARGINS = ("none", "strength")


class ExportOptionsError(ValueError):
    """An export option is unknown, out of range, or does not fit the chosen format."""


@dataclass(frozen=True)
class ExportOptions:
    format: str
    file_format: str = "jsonl"
    # Policies.
    ties: str = "drop"
    rank_breaking: str = "all-pairs"
    aggregate: str = "none"
    min_agreement: float = 0.0
    margin: str = "none"
    max_chosen_longer_rate: float | None = None
    test_fraction: float = 0.0
    seed: int = 0
    # Filters.
    arena: str = ""
    since: datetime | None = None
    until: datetime | None = None
    source: str = "both"
    min_confidence: int | None = None
    min_reliability: float | None = None
    models: tuple = field(default_factory=tuple)
    blind_only: bool = False
    exclude_guests: bool = False  # leave out arena guests' votes (session-bound voters without an account)
    campaigns: tuple = field(default_factory=tuple)
    # The dataset card.
    license: str = "other"

    @property
    def is_pairwise(self):
        return self.format in PAIR_FORMATS

    @property
    def has_margin(self):
        """dpo/dpo-chat/reward rows carry a ``margin`` column when margins are asked for."""
        return self.format in MARGIN_FORMATS and (self.margin == "strength" or self.ties == "margin-zero")

    def as_dict(self):
        """JSON-safe form, for an ExportJob row and the dataset card."""
        data = asdict(self)
        data["models"] = list(self.models)
        data["campaigns"] = list(self.campaigns)
        for key in ("since", "until"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


# Every option by name, in order: the command, the form and the API all take these.
OPTION_NAMES = tuple(f.name for f in fields(ExportOptions))


def _choice(data, key, choices, default):
    value = data.get(key)
    if value in (None, ""):
        return default
    if value not in choices:
        raise ExportOptionsError(
            f"Unknown {key.replace('_', ' ')} {value!r}; choose one of: {', '.join(choices)}."
        )
    return value


def _fraction(data, key, default, *, below_one=False):
    value = data.get(key)
    if value in (None, ""):
        return default
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ExportOptionsError(
            f"{key.replace('_', ' ').capitalize()} must be a number between 0 and 1, not {value!r}."
        ) from None
    if not (0.0 <= value < 1.0 if below_one else 0.0 <= value <= 1.0):
        upper = "below 1" if below_one else "at most 1"
        raise ExportOptionsError(
            f"{key.replace('_', ' ').capitalize()} must be at least 0 and {upper}; got {value}."
        )
    return value


def _integer(data, key, default, *, minimum=None):
    value = data.get(key)
    if value in (None, ""):
        return default
    if isinstance(value, bool):
        raise ExportOptionsError(
            f"{key.replace('_', ' ').capitalize()} must be a whole number, not {value!r}."
        )
    try:
        value = int(str(value).strip())
    except ValueError:
        raise ExportOptionsError(
            f"{key.replace('_', ' ').capitalize()} must be a whole number, not {value!r}."
        ) from None
    if minimum is not None and value < minimum:
        raise ExportOptionsError(
            f"{key.replace('_', ' ').capitalize()} must be at least {minimum}; got {value}."
        )
    return value


def _moment(data, key, *, end_of_day=False):
    value = data.get(key)
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time.min)
        if end_of_day:
            moment = datetime.combine(value, time.max)
    else:
        text = str(value).strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ExportOptionsError(
                f"{key.capitalize()} must be a date or date-time like 2026-01-31 or 2026-01-31T12:00, not {text!r}."
            ) from None
        if end_of_day and len(text) == 10:  # a bare date: the whole day counts
            moment = datetime.combine(moment.date(), time.max)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _names(value):
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ExportOptionsError("Models must be a list of model names, e.g. [\"model-a\", \"model-b\"].")
    return tuple(sorted({v.strip() for v in value if v.strip()}))


def _slugs(value):
    """Campaign slugs: a list (a repeated option) whose items may each be comma-separated."""
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ExportOptionsError("Campaigns must be campaign slugs, e.g. [\"helpfulness-v1\"] or \"a,b\".")
    return tuple(sorted({part.strip() for v in value for part in v.split(",") if part.strip()}))


def _flag(value):
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def parse_options(data):
    """ExportOptions from a plain dict (command arguments, API body, form).

    Raises ExportOptionsError with a sentence that says what to fix."""
    data = dict(data or {})
    if data.get("format") in (None, ""):
        raise ExportOptionsError(f"Choose a format: one of {', '.join(FORMATS)}.")
    fmt = _choice(data, "format", FORMATS, None)
    options = ExportOptions(
        format=fmt,
        file_format=_choice(data, "file_format", FILE_FORMATS, "jsonl"),
        ties=_choice(data, "ties", TIE_POLICIES, "drop"),
        rank_breaking=_choice(data, "rank_breaking", RANK_BREAKING, "all-pairs"),
        aggregate=_choice(data, "aggregate", AGGREGATIONS, "none"),
        min_agreement=_fraction(data, "min_agreement", 0.0),
        margin=_choice(data, "margin", MARGINS, "none"),
        max_chosen_longer_rate=_fraction(data, "max_chosen_longer_rate", None),
        test_fraction=_fraction(data, "test_fraction", 0.0, below_one=True),
        seed=_integer(data, "seed", 0),
        arena=str(data.get("arena") or "").strip(),
        since=_moment(data, "since"),
        until=_moment(data, "until", end_of_day=True),
        source=_choice(data, "source", SOURCES, "both"),
        min_confidence=_integer(data, "min_confidence", None, minimum=0),
        min_reliability=_fraction(data, "min_reliability", None),
        models=_names(data.get("models")),
        blind_only=_flag(data.get("blind_only", False)),
        exclude_guests=_flag(data.get("exclude_guests", False)),
        campaigns=_slugs(data.get("campaigns", data.get("campaign"))),
        license=str(data.get("license") or "other").strip() or "other",
    )
    _check_fit(options)
    return options


def _check_fit(o):
    if o.since and o.until and o.since > o.until:
        raise ExportOptionsError("The date range is empty: 'since' is after 'until'.")
    if o.ties == "kto-negative" and o.format != "kto":
        raise ExportOptionsError(
            "The kto-negative tie policy makes unpaired negatives, which only the kto format has; "
            "use --ties drop or margin-zero, or --format kto."
        )
    if o.ties == "margin-zero" and o.format == "kto":
        raise ExportOptionsError(
            "KTO rows have no margin; use --ties drop or kto-negative with --format kto."
        )
    if o.margin == "strength" and o.format not in MARGIN_FORMATS:
        raise ExportOptionsError(f"A margin column exists only in the {', '.join(MARGIN_FORMATS)} formats.")
    if o.aggregate != "none" and not o.is_pairwise:
        raise ExportOptionsError(
            f"Aggregation across annotators works on pairs; the {o.format} format keeps every judgment "
            "(use --aggregate none)."
        )
    if o.max_chosen_longer_rate is not None and not o.is_pairwise:
        raise ExportOptionsError(
            f"Length balancing caps how often chosen is the longer answer, which only pair formats "
            f"({', '.join(PAIR_FORMATS)}) have."
        )
