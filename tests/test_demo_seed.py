"""The demo seeding is idempotent and produces a playable arena."""

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from arena.models import Arena
from inference.models import ModelEndpoint

pytestmark = pytest.mark.django_db


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
