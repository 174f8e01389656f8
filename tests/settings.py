"""Test settings: the production shape (PostgreSQL + Redis) unless the environment says otherwise."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prefarena")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("CELERY_RESULT_BACKEND", "redis://127.0.0.1:6379/15")
os.environ.setdefault("CACHE_URL", os.environ["CELERY_BROKER_URL"])
os.environ["PREFARENA_TESTING"] = "1"

from config.settings import *  # noqa: F403 - test settings are the production settings plus the overrides below
from config.settings import REST_FRAMEWORK, STATIC_ROOT

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests

# Static files come from the finders in tests; an empty STATIC_ROOT keeps whitenoise quiet.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# Rate limits out of the way of the other tests (tests/test_throttles.py sets low ones to check them).
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {scope: "100000/min" for scope in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]},
}
