"""The demo seeding is idempotent and produces a playable arena."""

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from arena.models import Arena
from inference.models import ModelEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def reference_backend(monkeypatch):
    """The demo's models on transformers, whether or not llama-cpp-python is installed here."""
    monkeypatch.setenv("PREFARENA_DEMO_BACKEND", "transformers")


def test_seed_demo_twice_gives_one_arena_two_models_and_working_logins(tmp_path):
    call_command("seed_demo", models_dir=tmp_path)
    call_command("seed_demo", models_dir=tmp_path)
    arena = Arena.objects.get()
    assert sorted(arena.endpoints.values_list("name", flat=True)) == ["gemma-3-270m", "smollm2-135m-instruct"]
    assert ModelEndpoint.objects.get(name="gemma-3-270m").path == str(tmp_path.resolve() / "gemma-3-270m")
    assert arena.sample_prompts
    for username in ("annotator", "researcher", "admin"):
        user = authenticate(username=username, password=username)
        assert user is not None and user.groups.filter(name=username).exists()
    assert authenticate(username="admin", password="admin").is_staff


def test_the_demo_seeds_a_kwise_campaign_with_gold_and_a_routed_campaign(tmp_path):
    from django.contrib.auth import get_user_model

    from annotation import queues
    from annotation.models import Campaign, CampaignItem, CampaignRouting

    call_command("seed_demo", models_dir=tmp_path)
    call_command("seed_demo", models_dir=tmp_path)  # twice: nothing doubles
    kwise = Campaign.objects.get(slug="demo-kwise")
    assert kwise.k == 4 and kwise.rubric.family == "demo-multipref"
    assert CampaignItem.objects.filter(campaign=kwise, kind="regular").count() == 5
    assert CampaignItem.objects.filter(campaign=kwise, kind="gold").count() == 1
    routed = Campaign.objects.get(slug="demo-routed")
    routing = CampaignRouting.objects.get(campaign=routed)
    assert routing.enabled and [j.name for j in routing.judges.all()] == ["smollm2-judge"]
    assert ModelEndpoint.objects.get(name="smollm2-judge").path == str(
        tmp_path.resolve() / "smollm2-135m-instruct"
    )
    annotator = get_user_model().objects.get(username="annotator")
    assert (
        queues.next_assignment(kwise, annotator).item.campaign == kwise
    )  # an annotator can start right away
