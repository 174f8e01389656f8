"""The demo arena: two real local models, demo users for each role. Safe to run again."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from annotation import roles
from inference.models import ModelEndpoint, Prompt, ResponsePool
from inference.services import create_pool, queue_pool

from .models import Arena

DEMO_USERS = [
    # (username, password, role, is_staff)
    ("annotator", "annotator", roles.ANNOTATOR, False),
    ("researcher", "researcher", roles.RESEARCHER, False),
    ("admin", "admin", roles.ADMIN, True),
]

# Words that give each demo model away when it names itself.
IDENTITY_WORDS = {
    "smollm2-135m-instruct": ["smollm", "hugging face", "huggingface"],
    "gemma-3-270m": ["gemma", "google", "deepmind"],
}

SAMPLE_PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about autumn rain.",
    "Explain what a hash table is in two sentences.",
    "Give me three tips for a good night's sleep.",
    "What is 17 times 23?",
    "Translate 'good morning, friends' into Spanish.",
    "Suggest a name for a friendly robot.",
    "Why is the sky blue?",
]


@transaction.atomic
def seed_demo(models):
    """models: dicts with name, display_name, path, license, generation_params (and backend,
    default transformers). Returns the arena."""
    User = get_user_model()
    for username, password, role, is_staff in DEMO_USERS:
        user, created = User.objects.get_or_create(username=username, defaults={"is_staff": is_staff})
        if created:
            user.set_password(password)
            user.is_superuser = role == roles.ADMIN
            user.save()
        user.groups.add(Group.objects.get(name=role))
    endpoints = [
        ModelEndpoint.objects.update_or_create(
            name=m["name"],
            defaults={
                "display_name": m.get("display_name", ""),
                "backend": m.get("backend", ModelEndpoint.Backend.TRANSFORMERS),
                "path": str(m["path"]),
                "license": m.get("license", ""),
                "generation_params": m.get("generation_params", {}),
                "identity_words": IDENTITY_WORDS.get(m["name"], []),
            },
        )[0]
        for m in models
    ]
    arena, _ = Arena.objects.get_or_create(
        slug="demo",
        defaults={
            "name": "Demo arena",
            "description": "Two small local models, answering on this machine.",
            "sample_prompts": SAMPLE_PROMPTS,
            "matchmaking": Arena.Matchmaking.ADAPTIVE,
        },
    )
    arena.endpoints.add(*endpoints)
    return arena


def sample_pool_name(arena):
    return f"arena-{arena.slug}-sample-prompts"


def queue_sample_answers(arena):
    """A response pool of the arena's sample prompts × its models, filled on the worker in the
    background (prompt by prompt, yielding to live battles), so "Random prompt" battles show
    finished answers at once. Returns how many answers were queued (0 when all are there)."""
    with transaction.atomic():
        prompts = []
        for text in arena.sample_prompts:
            conversation = [{"role": "user", "content": text}]
            prompt = Prompt.objects.filter(
                conversation=conversation, pools__name=sample_pool_name(arena)
            ).first()
            prompts.append(prompt or Prompt.objects.create(conversation=conversation))
        pool = ResponsePool.objects.filter(name=sample_pool_name(arena)).first()
        if pool is None:
            pool = create_pool(
                sample_pool_name(arena),
                prompts,
                arena.endpoints.all(),
                description=f"Answers to the sample prompts of {arena.name}, ahead of time.",
            )
        else:
            pool.prompts.set(prompts)
            pool.endpoints.set(arena.endpoints.all())
        return queue_pool(pool, background=True)
