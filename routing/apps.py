from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "routing"
    verbose_name = "Human/AI routing"

    def ready(self):
        from . import signals  # noqa: F401 - connects the judgment hook
