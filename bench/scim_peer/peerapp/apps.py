from django.apps import AppConfig


class PeerAppConfig(AppConfig):
    name = "bench.scim_peer.peerapp"
    label = "peerapp"
    default_auto_field = "django.db.models.BigAutoField"
