"""Shared helpers for the campaign tests (imported by test_campaign_*.py; holds no tests itself)."""

import json

from django.contrib.auth.models import Group

from annotation import campaigns as campaign_services
from annotation import items
from annotation.rubrics import template_spec


def add_role(user, role):
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def jsonl(rows):
    return "\n".join(json.dumps(r) for r in rows).encode()


def rows_k(n, k, start=0):
    return [
        {
            "prompt": f"Question {start + i}?",
            "responses": [{"text": f"Answer {j} to {start + i}", "model": f"m{j}"} for j in range(k)],
        }
        for i in range(n)
    ]


def make_campaign(user, *, slug="c1", k=2, overlap=2, spec=None, groups=(), n_items=4, **fields):
    rubric = campaign_services.create_rubric(f"rubric-{slug}", spec or template_spec("simple"), user=user)
    campaign = campaign_services.create_campaign(
        user=user,
        name=f"Campaign {slug}",
        slug=slug,
        rubric=rubric,
        k=k,
        overlap=overlap,
        groups=groups,
        **fields,
    )
    if n_items:
        items.import_items(campaign, jsonl(rows_k(n_items, k)), "jsonl")
    return campaign
