"""Bearer tokens for the peer: one indexed lookup per request, as a real deployment would make."""

import hashlib

from django.contrib.auth import get_user_model


class BearerTokenMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            digest = hashlib.sha256(header[7:].encode()).hexdigest()
            # The bench keeps the token's hash in the service account's last_name (indexed lookups
            # are what matter here, not a token model).
            user = get_user_model().objects.filter(username="scim-bot", last_name=digest[:150]).first()
            if user is not None:
                request.user = user
        return self.get_response(request)
