from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        # Registers the API token security scheme with drf-spectacular.
        from core.api import schema  # noqa: F401

        _guard_allauth_cache()


def _guard_allauth_cache() -> None:
    """allauth reads ``django.core.cache.cache`` itself for its sign-in limits and its marks of used
    authenticator codes; with Redis down every password sign-in would fail. Those two modules get
    a cache that keeps both in the database while Redis is unreachable (core.shared_cache)."""
    from allauth.core.internal import ratelimit
    from allauth.mfa.totp.internal import auth as totp

    from core.shared_cache import CacheOrDatabase

    ratelimit.cache = CacheOrDatabase("counting a sign-in limit")  # type: ignore[assignment]
    totp.cache = CacheOrDatabase("marking an authenticator code as used")  # type: ignore[assignment]
