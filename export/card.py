"""The dataset card (README.md): YAML metadata that `datasets.load_dataset(folder)`
reads to find the files, and a body that says exactly how the rows were made."""

import json
from collections import Counter
from dataclasses import dataclass, field

import yaml

POLICY_TEXT = {
    "ties": {
        "drop": "Tied pairs and every judgment marked \"none acceptable\" are dropped.",
        "kto-negative": "Each response in a tied pair, and each response of a \"none acceptable\" judgment, "
        "becomes one unpaired negative (label false); the strict pairs of a \"none acceptable\" judgment are not used.",
        "margin-zero": "Tied pairs are kept with margin 0 (chosen = the one shown first, tie = true); every pair "
        "of a \"none acceptable\" judgment is kept with margin 0.",
    },
    "rank_breaking": {
        "all-pairs": "Every response beats every response in a lower tie group: K(K-1)/2 pairs per ranking "
        "(tied pairs within every group).",
        "best-vs-rest": "Only the best tie group's responses beat each other response (tied pairs within the best "
        "group only).",
        "adjacent": "Each tie group's responses beat the next group's (tied pairs within every group).",
    },
    "aggregate": {
        "none": "Every judgment makes its own rows. `agreement` is the share of the comparison's judgments that "
        "give the same outcome for that pair.",
        "majority": "One row per pair of a comparison: each judgment votes a-over-b, b-over-a or tie (from its "
        "full ranking) on every pair its rank-breaking yields; the outcome with the most votes wins, a draw yields "
        "nothing. `agreement` is the winning outcome's share.",
        "weighted": "As majority, with each vote weighted by its author's reliability in [0, 1] "
        "(annotation.quality.annotator_reliability: gold-check accuracy blended with agreement with the other "
        "annotators, shrunk toward 0.5; for a campaign judgment, in that campaign, for any other vote, over all "
        "campaigns). An author with no reliability yet, and every AI judge, weighs 0.5 (the prior's value with no "
        "evidence). `agreement` is the winning outcome's share of the weight; \"none acceptable\" is decided by "
        "weight too.",
    },
}


# listwise and ratings keep each judgment's whole ranking: no pairs, so no rank-breaking and no tied pairs.
RANKED_TIES_TEXT = {
    "drop": "A judgment in which every response is tied, and every judgment marked \"none acceptable\", is "
    "dropped; partial ties are kept as equal ranks.",
    "margin-zero": "Every judgment is kept, ties included (as equal ranks) and \"none acceptable\" ones "
    "(flagged in the `none_acceptable` column).",
}
RANKED_SHAPE_TEXT = {
    "listwise": "Not applied: each row keeps one judgment's whole ranking, with tied responses at equal `ranks`; "
    "nothing is split into pairs.",
    "ratings": "Not applied: each response of a judgment is one row, with its tie-group `rank` (equal for ties) "
    "and `rank_score`; nothing is split into pairs.",
}
SOURCE_TEXT = {
    "human": "human votes",
    "ai": "AI-judge votes",
    "both": "human and AI-judge votes",
    "routed": "the routed mix of human and AI-judge labels",
}


def _policy_lines(options):
    """The policy bullets that hold for this format: pair formats break rankings into pairs, listwise and
    ratings keep them whole (one judgment per row or per response, never aggregated)."""
    if options.format in RANKED_SHAPE_TEXT:
        return [
            f"- **Ties and \"none acceptable\"** (`{options.ties}`): {RANKED_TIES_TEXT[options.ties]}",
            f"- **K-wise rank-breaking**: {RANKED_SHAPE_TEXT[options.format]}",
            f"- **Aggregation across annotators** (`{options.aggregate}`, minimum agreement {options.min_agreement}): "
            "none: every judgment makes its own rows. `agreement` is the share of the comparison's judgments with "
            "exactly the same ranking; rows below the minimum are dropped.",
            "- **Margin**: no margin column.",
            "- **Length balancing**: none (there is no chosen or rejected answer).",
        ]
    return [
        f"- **Ties and \"none acceptable\"** (`{options.ties}`): {POLICY_TEXT['ties'][options.ties]}",
        f"- **K-wise rank-breaking** (`{options.rank_breaking}`): {POLICY_TEXT['rank_breaking'][options.rank_breaking]}",
        f"- **Aggregation across annotators** (`{options.aggregate}`, minimum agreement {options.min_agreement}): "
        f"{POLICY_TEXT['aggregate'][options.aggregate]} Rows with agreement below the minimum are dropped.",
        f"- **Margin** (`{options.margin}`): "
        + (
            "a `margin` column: tie-group gap × the mean strength of the judgments behind the row when "
            "`--margin strength` and a strength was recorded, else × 1; 0 for ties and \"none acceptable\"."
            if options.has_margin
            else "no margin column."
        ),
        "- **Length balancing**: "
        + (
            f"chosen may be the longer answer in at most {options.max_chosen_longer_rate:.0%} of pairs per split "
            "(streaming and deterministic: a chosen-longer pair is dropped when keeping it would pass the cap)."
            if options.max_chosen_longer_rate is not None
            else "none."
        ),
    ]


def _length_stats(lengths):
    total = sum(lengths.values())
    if not total:
        return None
    ordered = sorted(lengths.items())

    def quantile(q):
        target, seen = q * (total - 1), 0
        for length, count in ordered:
            seen += count
            if seen > target:
                return length
        return ordered[-1][0]

    mean = sum(length * count for length, count in ordered) / total
    return {
        "count": total,
        "mean": round(mean, 1),
        "min": ordered[0][0],
        "p50": quantile(0.5),
        "p90": quantile(0.9),
        "max": ordered[-1][0],
    }


def summary(stats):
    """The counts and statistics, as a JSON-safe dict (stored on the job and shown in the card)."""
    out = {
        "judgments_read": stats.judgments_read,
        "comparisons_read": stats.comparisons_read,
        "rows": dict(stats.rows),
        "rows_total": sum(stats.rows.values()),
        "dropped": dict(sorted(stats.dropped.items())),
        "source_mix": dict(sorted(stats.sources.items())),
        "lengths_chars": {name: _length_stats(counter) for name, counter in sorted(stats.lengths.items())},
    }
    if stats.scope:
        out["scope"] = stats.scope
    if stats.unknown_reliability:
        out["unknown_reliability"] = stats.unknown_reliability
    if stats.pairs:
        out["pairs"] = stats.pairs
        out["chosen_longer_rate"] = round(stats.chosen_longer / stats.pairs, 4)
    return out


def card_text(options, files, stats_summary, routing=()):
    """README.md for the exported folder. ``routing``: the routed campaigns' summaries
    (annotation.routing_records.routing_summaries) when the export is the routed mix."""
    configs = []
    for name, suffix in files["configs"]:
        configs.append(
            {
                "config_name": name,
                "data_files": [
                    {"split": split, "path": f"data/{split}.{suffix}"} for split in files["splits"]
                ],
            }
        )
    meta = {
        "license": options.license,
        "pretty_name": f"PrefArena {options.format} preferences",
        "tags": ["preference", "trl", options.format, "prefarena"],
        "configs": configs,
    }
    rows_total = stats_summary["rows_total"]
    o = options.as_dict()
    lines = [
        "---",
        yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).rstrip(),
        "---",
        "",
        f"# PrefArena preference export: `{options.format}`",
        "",
    ]
    if rows_total == 0:
        lines += [
            "**This export is empty: no judgment matched the filters and policies below.** "
            f"({stats_summary['judgments_read']} judgments were read.)",
            "",
            "`datasets.load_dataset` cannot load it: it refuses a split with no rows (\"Instruction 'train' "
            "corresponds to no data\" for Parquet, a bare StopIteration for JSONL). The files are still written "
            "so tools can tell an empty export from a failed one: a Parquet file carries the full typed schema "
            "(`pyarrow.parquet.read_table` or `pandas.read_parquet` read it as zero rows), a JSONL file is empty.",
            "",
        ]
    lines += [
        f"Made by PrefArena from {SOURCE_TEXT[options.source]}. Format: `{options.format}` "
        f"({_format_line(options)}). Load it offline with `datasets.load_dataset(\"<this folder>\")`.",
        "",
        "## Counts",
        "",
        "| split | rows |",
        "|---|---|",
        *[f"| {split} | {count} |" for split, count in sorted(stats_summary["rows"].items())],
        "",
        f"- judgments read: {stats_summary['judgments_read']}; comparisons read: {stats_summary['comparisons_read']}",
        f"- source mix (rows): {_inline(stats_summary['source_mix']) or 'none'}",
        f"- dropped: {_inline(stats_summary['dropped']) or 'nothing'}",
    ]
    if "chosen_longer_rate" in stats_summary:
        lines.append(
            f"- chosen-longer rate: {stats_summary['chosen_longer_rate']:.2%} of {stats_summary['pairs']} pairs "
            "(chosen strictly longer than rejected, in characters)"
        )
    if options.source == "routed":
        lines += routing_lines(routing, stats_summary["source_mix"])
    lines += [
        "",
        "## Length statistics (characters)",
        "",
        "| text | count | mean | min | p50 | p90 | max |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in sorted(stats_summary["lengths_chars"].items()):
        if s:
            lines.append(
                f"| {name} | {s['count']} | {s['mean']} | {s['min']} | {s['p50']} | {s['p90']} | {s['max']} |"
            )
    lines += [
        "",
        "## Policies",
        "",
        *_policy_lines(options),
        f"- **Split**: grouped by prompt content (a seeded hash; seed {options.seed}), test fraction "
        f"{options.test_fraction}: no prompt appears in both splits.",
        "",
        "## Filters",
        "",
        f"- source: {options.source}; arena: {options.arena or 'any'}; since: {o['since'] or 'any'}; "
        f"until: {o['until'] or 'any'}",
        f"- minimum confidence: {options.min_confidence if options.min_confidence is not None else 'none'}; "
        f"models: {', '.join(options.models) or 'any'}; blind votes only: {'yes' if options.blind_only else 'no'}",
        "- arena guests (session-bound voters without an account): "
        + (
            "left out"
            if options.exclude_guests
            else "kept; their rows have `guest` true (export with exclude_guests to leave them out)"
        ),
        f"- campaigns: {', '.join(options.campaigns) or 'any'}; minimum annotator reliability: "
        + (
            f"{options.min_reliability} (judgments whose author's reliability is below it are dropped; an author with "
            f"no reliability yet, and every AI judge, is kept: {stats_summary.get('unknown_reliability', 0)} such "
            "judgments)"
            if options.min_reliability is not None
            else "none"
        ),
        f"- who could be read: {stats_summary.get('scope') or 'every judgment'}",
        "",
        "## Provenance columns",
        "",
        "Trainers ignore these. `comparison_id`, `prompt_id`, `judgment_ids`; `source` (human, ai or mixed); "
        "`annotators` (pseudonyms: an HMAC of the user id, stable across exports, not the username); `judges` "
        "(AI judge name@prompt version); `n_judgments`, `agreement`; `strength` and `confidence` (means over the "
        "judgments behind the row); `none_acceptable`, `identities_hidden`, `rationale`, `reason_tags`, "
        "`rubric_version`, `judged_at` (latest judgment), `comparison_created_at`; `guest` (true when an arena guest, a voter without an account, wrote a "
        "judgment behind the row); and the models and shown "
        "positions of the responses.",
        "",
        "## Options (exactly as run)",
        "",
        "```json",
        json.dumps(o, indent=2, sort_keys=True),
        "```",
        "",
    ]
    return "\n".join(lines)


def routing_lines(routing, source_mix):
    """The card's routing section: budget, policy, the share of each source, and the AI–human agreement per
    slice that the router estimated from its random audit share."""
    total = sum(source_mix.values())
    shares = ", ".join(
        f"{source} {count / total:.1%} ({count} rows)" for source, count in sorted(source_mix.items())
    )
    lines = [
        "",
        "## Routing",
        "",
        "This is the routed mix: on each item of a routed campaign, the human judgments where people labelled it "
        "and the AI judges' verdicts elsewhere; every row's `source` says which, and `routing_policy` and "
        "`routing_reason` say why the router sent the item where it went.",
        "",
        f"- share of each source: {shares or 'no rows'}",
    ]
    if not routing:
        return lines + ["- no campaign in this export has routing decisions."]
    lines += [
        "",
        "| campaign | policy | human budget | audit share | model version |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['campaign']} | {r['policy']} | {r['budget']} | {r['audit']:.0%} | {r['model_version'] or '—'} |"
        for r in routing
    ]
    lines += [
        "",
        "Estimated AI–human agreement per slice (prompt domain), from the audit share: items drawn at "
        "random from the human budget, so the estimate is unbiased; 95% Wilson intervals.",
        "",
    ]
    for r in routing:
        agreement = (r["estimates"] or {}).get("agreement_by_slice") or {}
        if not agreement:
            lines.append(f"- {r['campaign']}: no audited item has a human label yet.")
            continue
        lines.append(
            f"- {r['campaign']}: "
            + "; ".join(
                f"{name} {a['rate']:.0%} ({a['low']:.0%}–{a['high']:.0%}, n={a['n']})"
                for name, a in agreement.items()
            )
        )
    return lines


def _format_line(options):
    return {
        "dpo": "TRL standard preference: prompt, chosen, rejected strings; for DPO, IPO, SimPO, ORPO, CPO",
        "dpo-chat": "TRL conversational preference: prompt, chosen, rejected message lists (a multi-turn arena "
        "battle: its opening as prompt, each side's answers and the follow-ups as chosen and rejected)",
        "reward": "TRL conversational preference with an implicit prompt, for RewardTrainer",
        "kto": "TRL conversational unpaired preference: prompt, completion, label",
        "listwise": "prompt and responses in ranked order; `ranks` are 1-based tie-group ranks, equal for ties",
        "ratings": "one row per response: rank, rank_score in [0, 1] and per-aspect scores",
    }[options.format]


def _inline(mapping):
    return ", ".join(f"{k}: {v}" for k, v in mapping.items())


@dataclass
class ExportStats:
    """What one export read, wrote and dropped (bounded memory: length counters are keyed by length)."""

    judgments_read: int = 0
    comparisons_read: int = 0
    rows: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)
    sources: Counter = field(default_factory=Counter)
    lengths: dict = field(default_factory=dict)
    pairs: int = 0
    chosen_longer: int = 0
    scope: str = ""
    unknown_reliability: int = 0

    def add_length(self, name, length):
        counter = self.lengths.get(name)
        if counter is None:
            counter = self.lengths[name] = Counter()
        counter[length] += 1

    def add_lengths(self, name, counts):
        """add_length for many: ``counts`` maps a length to how many texts have it."""
        self.lengths.setdefault(name, Counter()).update(counts)
