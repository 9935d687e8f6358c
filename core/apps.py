from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        # Registers the API token security scheme with drf-spectacular.
        from core.api import schema  # noqa: F401
