"""API tokens for researchers' scripts (DRF's ``authtoken``: one token per user, sent as
``Authorization: Token <key>``; a token acts as its user)."""
from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.authtoken.models import Token

from feedback.selectors import can_annotate


class TokenRefused(ValueError):
    """The user cannot have an API token (unknown, inactive, or allowed no endpoint)."""


def issue_token(username: str, *, reset: bool = False) -> tuple[Token, bool]:
    """The user's token, made if missing (or replaced, with ``reset``): (token, made now)."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise TokenRefused(f"there is no user named {username!r}")
    if not user.is_active:
        raise TokenRefused(f"user {username!r} is inactive")
    if not can_annotate(user):  # staff, superusers and annotators; nobody else may call the API
        raise TokenRefused(f"user {username!r} is neither staff nor an annotator, so the API would refuse it")
    with transaction.atomic():
        if reset:
            Token.objects.filter(user=user).delete()
        token, made = Token.objects.get_or_create(user=user)
    return token, made
