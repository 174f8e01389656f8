from django.apps import AppConfig


class ArenaConfig(AppConfig):
    name = "arena"
    verbose_name = "Arena"

    def ready(self):
        from . import signals  # noqa: F401 - connects the matchmaking change log
