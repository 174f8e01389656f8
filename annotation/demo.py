"""The demo's campaigns, so a new annotator sees the whole product: a K = 4 campaign on the multipref
rubric with shipped answers (instant: nothing to generate) and a gold item, and a pairwise campaign routed
between people and an AI judge. Safe to run again."""

import json

from django.contrib.auth import get_user_model
from django.db import transaction

from inference.models import ModelEndpoint

from . import campaigns as campaign_services
from . import items
from .models import Campaign
from .routing_records import save_routing
from .rubrics import template_spec

# Four answers of plainly different quality per prompt (written for the demo; no model made them).
KWISE_ITEMS = [
    (
        "What is the boiling point of water at sea level?",
        [
            "100 °C (212 °F) at standard atmospheric pressure.",
            "Water boils at 100 degrees Celsius at sea level; higher up, where the air pressure is lower, it boils at a "
            "lower temperature.",
            "It boils at 90 °C.",
            "Boiling depends on many things.",
        ],
    ),
    (
        "Give one tip for learning a new language.",
        [
            "Practise a little every day: 15 minutes daily beats two hours once a week.",
            "Talk with native speakers early, even with mistakes; conversation trains listening and recall at once.",
            "Just memorise the dictionary.",
            "Languages are hard.",
        ],
    ),
    (
        "Explain recursion in one sentence.",
        [
            "Recursion is when a function solves a problem by calling itself on a smaller piece of the same problem "
            "until it reaches a case simple enough to answer directly.",
            "A function that calls itself.",
            "Recursion means doing a loop forever.",
            "See: recursion.",
        ],
    ),
    (
        "Suggest a name for a bakery.",
        [
            "Rise & Shine Bakery",
            "The Daily Crumb",
            "Bakery Shop Store",
            "Bread",
        ],
    ),
    (
        "Is a tomato a fruit or a vegetable?",
        [
            "Botanically a fruit (it grows from the flower and holds seeds); in cooking it is treated as a vegetable.",
            "A fruit.",
            "A vegetable, because it is not sweet.",
            "Both and neither.",
        ],
    ),
]
GOLD_ITEM = ("What is 2 + 2?", ["4", "2 + 2 is 4.", "5", "22"], [[0, 1], [2], [3]])

PAIR_ITEMS = [
    ("What is the capital of Australia?", "Canberra.", "Sydney is the capital of Australia."),
    ("How many legs does a spider have?", "Eight.", "Spiders have six legs, like insects."),
    (
        "Write a two-word slogan for a library.",
        "Read more.",
        "Books are places where you can read many books "
        "and also borrow them for a while before returning them.",
    ),
    ("What gas do plants take in?", "Carbon dioxide, which they use for photosynthesis.", "Oxygen."),
    ("Name a primary colour.", "Blue.", "Purple is a primary colour."),
    ("Convert 1 km to metres.", "1,000 metres.", "1 km is 100 metres."),
    ("Who wrote 'Romeo and Juliet'?", "William Shakespeare.", "Charles Dickens wrote it in 1850."),
    ("What is the freezing point of water in Fahrenheit?", "32 °F.", "0 °F."),
]
JUDGE_NAME = "smollm2-judge"


def _jsonl(rows):
    return "\n".join(json.dumps(row) for row in rows).encode()


def _campaign(slug, name, rubric_family, spec, k, overlap, owner, **fields):
    campaign = Campaign.objects.filter(slug=slug).first()
    if campaign is not None:
        return campaign, False
    rubric = campaign_services.create_rubric(rubric_family, spec, user=owner)
    return campaign_services.create_campaign(
        user=owner, name=name, slug=slug, rubric=rubric, k=k, overlap=overlap, **fields
    ), True


@transaction.atomic
def seed_demo_campaigns(judge_model_path, researcher="researcher", judge_backend="transformers"):
    """The two demo campaigns (left as they are when they exist). ``judge_model_path`` is the local model that
    judges the routed campaign (the demo's SmolLM2, by likelihood: one forward pass per order), on
    ``judge_backend`` (llama.cpp scores likelihoods too, without loading torch in the worker)."""
    owner = get_user_model().objects.get(username=researcher)
    kwise, created = _campaign(
        "demo-kwise",
        "Demo: rank four answers",
        "demo-multipref",
        template_spec("multipref"),
        k=4,
        overlap=2,
        owner=owner,
        gold_rate=0.2,
    )
    if created:
        rows = [
            {"id": f"demo-{i}", "prompt": prompt, "responses": answers}
            for i, (prompt, answers) in enumerate(KWISE_ITEMS)
        ]
        prompt, answers, expected = GOLD_ITEM
        rows.append(
            {
                "id": "demo-gold",
                "prompt": prompt,
                "responses": answers,
                "kind": "gold",
                "expected_ranking": expected,
            }
        )
        items.import_items(kwise, _jsonl(rows), "jsonl", user=owner)

    judge, _ = ModelEndpoint.objects.update_or_create(
        name=JUDGE_NAME,
        defaults={
            "display_name": "SmolLM2 as a judge",
            "backend": judge_backend,
            "path": str(judge_model_path),
            "enabled": True,
            "judge_method": ModelEndpoint.JudgeMethod.LLM,
            "judge_settings": {"confidence": "likelihood"},
        },
    )
    routed, created = _campaign(
        "demo-routed",
        "Demo: human/AI routing",
        "demo-simple",
        template_spec("simple"),
        k=2,
        overlap=1,
        owner=owner,
    )
    if created:
        # Settings first: the items' arrival then asks the judge and the router (beat sweeps them too).
        save_routing(
            routed,
            enabled=True,
            policy="learned",
            budget_share=0.5,
            audit=0.25,
            judges=[judge.name],
            refit_every=2,
        )
        rows = [
            {"id": f"pair-{i}", "prompt": prompt, "responses": [a, b]}
            for i, (prompt, a, b) in enumerate(PAIR_ITEMS)
        ]
        items.import_items(routed, _jsonl(rows), "jsonl", user=owner)
    return kwise, routed
