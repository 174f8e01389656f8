"""Shared helpers for the campaign tests (imported by test_campaign_*.py; holds no tests itself)."""

import json

import pytest
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


@pytest.fixture
def people(make_user):
    researcher = add_role(make_user("rita"), "researcher")
    other_researcher = add_role(make_user("otto"), "researcher")
    annotator = add_role(make_user("ann"), "annotator")
    outsider = add_role(make_user("olga"), "annotator")  # not in the campaign's group
    admin = add_role(make_user("adam", is_staff=True), "admin")
    experts = Group.objects.create(name="experts")
    annotator.groups.add(experts)
    return {
        "researcher": researcher,
        "other_researcher": other_researcher,
        "annotator": annotator,
        "outsider": outsider,
        "admin": admin,
        "experts": experts,
    }


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
