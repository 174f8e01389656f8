"""Campaign items from answers that already exist: a response pool, or a set of prompts × chosen models.

Nothing is generated here (generation stays in the pool tools of inference). A prompt becomes one
Comparison + CampaignItem when it has finished (status done) pooled answers from at least K distinct chosen
models; otherwise it is skipped, with the reason in the report.

Which K answers, when more models answered: models are drawn *balanced*, then at random. Prompts are
taken in id order; for each, the K models used least so far in this build are chosen, ties between equally
used models broken by a random draw seeded with ``seed``; then the K answers are put in a random order,
from the same seeded generator. The same inputs and seed give the same items (the dry run shows exactly
what the real run creates). With a pool, each model's answer is the one made under the pool's parameters;
with prompts × models, each model's newest finished pooled answer to the prompt.

A prompt that already has an item in this campaign is skipped, so building twice adds nothing twice."""

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db import transaction

from inference.models import ModelEndpoint, Prompt, Response, ResponsePool
from inference.selectors import pool_answers

from .models import Campaign, CampaignItem
from .services import create_comparison

MAX_PROMPTS = 20_000


class BuildInvalid(ValueError):
    """The request cannot be carried out as asked; the message says what to fix."""


@dataclass
class BuildReport:
    dry_run: bool
    source: str
    seed: int
    k: int
    prompts: int = 0
    items: int = 0
    models: dict = field(default_factory=dict)  # model name → answers used
    planned: list = field(default_factory=list)  # [{"prompt": id, "models": [names in shown order]}]
    skipped: list = field(default_factory=list)  # ["prompt 12: only 1 finished answer …"]

    def as_dict(self):
        return dict(self.__dict__)


def _endpoints_by_name(names):
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) and n.strip() for n in names):
        raise BuildInvalid("Give the models as a list of model names.")
    names = list(dict.fromkeys(n.strip() for n in names))
    found = {e.name: e for e in ModelEndpoint.objects.filter(name__in=names)}
    missing = [n for n in names if n not in found]
    if missing:
        raise BuildInvalid(f"There is no model called {missing[0]!r}.")
    return [found[n] for n in names]


def _prompt_ids(values):
    if not isinstance(values, (list, tuple)) or not values:
        raise BuildInvalid("Give the prompts as a non-empty list of prompt ids.")
    ids = []
    for value in values:
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            and not (isinstance(value, str) and value.strip().isdigit())
        ):
            raise BuildInvalid(f"{value!r} is not a prompt id (a whole number).")
        ids.append(int(value))
    ids = list(dict.fromkeys(ids))
    found = set(Prompt.objects.filter(pk__in=ids).values_list("pk", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        raise BuildInvalid(f"There is no prompt {missing[0]}.")
    return ids


def _status_note(statuses):
    counts = Counter(statuses)
    notes = [
        f"{counts[s]} {label}"
        for s, label in (
            (Response.Status.PENDING, "still pending"),
            (Response.Status.RUNNING, "running"),
            (Response.Status.FAILED, "failed"),
        )
        if counts[s]
    ]
    return f" ({', '.join(notes)})" if notes else ""


def plan_items(campaign, *, pool=None, prompts=None, models=None, seed=0):
    """(report, plan): what would be created and why prompts were skipped; writes nothing."""
    seed = _seed(seed)
    k = campaign.k
    endpoints, prompt_ids, answers, source = _source(pool, prompts, models)
    if len(endpoints) < k:
        raise BuildInvalid(
            f"This campaign shows K={k} answers per item; choose at least {k} models (you chose {len(endpoints)})."
        )
    if not prompt_ids:
        raise BuildInvalid("There are no prompts to build items from.")
    if len(prompt_ids) > MAX_PROMPTS:
        raise BuildInvalid(
            f"Build from at most {MAX_PROMPTS} prompts at a time (you gave {len(prompt_ids)})."
        )

    done, other = defaultdict(dict), defaultdict(list)
    for answer in answers.order_by("-finished_at", "-pk").select_related("endpoint"):
        if answer.status == Response.Status.DONE and answer.text.strip():
            done[answer.prompt_id].setdefault(answer.endpoint.name, answer)  # newest per model
        else:
            other[answer.prompt_id].append(answer.status)
    existing = set(
        CampaignItem.objects.filter(campaign=campaign, comparison__prompt_id__in=prompt_ids).values_list(
            "comparison__prompt_id", flat=True
        )
    )

    rng = random.Random(seed)
    used = Counter({e.name: 0 for e in endpoints})
    report = BuildReport(dry_run=True, source=source, seed=seed, k=k, prompts=len(prompt_ids))
    plan = []
    for prompt_id in prompt_ids:
        if prompt_id in existing:
            report.skipped.append(f"prompt {prompt_id}: already has an item in this campaign")
            continue
        by_model = done.get(prompt_id, {})
        if len(by_model) < k:
            report.skipped.append(_too_few(prompt_id, len(by_model), k, other.get(prompt_id, [])))
            continue
        names = sorted(by_model)
        rng.shuffle(names)
        chosen = sorted(names, key=lambda n: used[n])[:k]  # stable sort: the shuffle breaks ties
        rng.shuffle(chosen)
        for name in chosen:
            used[name] += 1
        plan.append((prompt_id, [by_model[name] for name in chosen]))
        report.planned.append({"prompt": prompt_id, "models": chosen})
    report.items = len(plan)
    report.models = {name: used[name] for name in sorted(used)}
    return report, plan


def _seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, int):
        try:
            return int(str(seed).strip())
        except ValueError:
            raise BuildInvalid(f"The seed must be a whole number, not {seed!r}.") from None
    return seed


def _source(pool, prompts, models):
    """(endpoints, prompt ids, their answers, the source's description) from a pool or prompts × models."""
    if pool is not None and prompts:
        raise BuildInvalid("Build from a pool or from a list of prompts, not both.")
    if pool is not None:
        return _pool_source(pool, models)
    if not prompts:
        raise BuildInvalid("Choose a response pool, or prompts and models.")
    if not models:
        raise BuildInvalid("Choose the models whose answers to use.")
    endpoints = _endpoints_by_name(models)
    prompt_ids = sorted(_prompt_ids(prompts))
    answers = Response.objects.filter(pooled=True, prompt_id__in=prompt_ids, endpoint__in=endpoints)
    return endpoints, prompt_ids, answers, "prompts × models"


def _pool_source(pool, models):
    if not isinstance(pool, (str, ResponsePool)):
        raise BuildInvalid("Name the response pool as text.")
    if isinstance(pool, str):
        pool = ResponsePool.objects.filter(name=pool.strip()).first() or pool
        if isinstance(pool, str):
            raise BuildInvalid(f"There is no response pool called {pool!r}.")
    pool_models = list(pool.endpoints.all())
    endpoints = _endpoints_by_name(models) if models else pool_models
    outside = [e.name for e in endpoints if e not in pool_models]
    if outside:
        raise BuildInvalid(f"The model {outside[0]!r} is not one of the pool {pool.name!r}'s models.")
    prompt_ids = list(pool.prompts.order_by("pk").values_list("pk", flat=True))
    answers = pool_answers(pool, status=None).filter(endpoint_id__in={e.pk for e in endpoints})
    return endpoints, prompt_ids, answers, f"pool {pool.name}"


def _too_few(prompt_id, have, k, other_statuses):
    words = "no finished answer" if have == 0 else f"only {have} finished answer{'s' if have != 1 else ''}"
    return f"prompt {prompt_id}: {words} from the chosen models, {k} needed{_status_note(other_statuses)}"


def build_items(campaign, *, pool=None, prompts=None, models=None, seed=0, dry_run=False, user=None):
    """Plan, then (unless dry_run) create one Comparison + regular CampaignItem per planned prompt; all or nothing."""
    from .campaigns import require_manage

    if user is not None:
        require_manage(user, campaign)
    if dry_run:
        return plan_items(campaign, pool=pool, prompts=prompts, models=models, seed=seed)[0]
    with transaction.atomic():
        # one build at a time per campaign, so two builds never both add the same prompt; NO KEY, so rows that
        # reference the campaign (its new items, an annotator's standing) are not held up by a build
        Campaign.objects.select_for_update(no_key=True).filter(pk=campaign.pk).first()
        report, plan = plan_items(campaign, pool=pool, prompts=prompts, models=models, seed=seed)
        report.dry_run = False
        prompts_by_id = Prompt.objects.in_bulk([prompt_id for prompt_id, _ in plan])
        for prompt_id, responses in plan:
            comparison = create_comparison(prompts_by_id[prompt_id], responses)
            CampaignItem.objects.create(
                campaign=campaign,
                comparison=comparison,
                kind=CampaignItem.Kind.REGULAR,
                external_id=f"{report.source}: prompt {prompt_id}"[:200],
            )
    return report
