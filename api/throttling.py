"""Rate limits per user, read from ``settings.API_THROTTLE_RATES`` on every request (so that a test or an
operator's settings change takes effect without re-importing DRF's settings)."""
from django.conf import settings
from rest_framework.throttling import UserRateThrottle


class _RateFromSettings(UserRateThrottle):
    def get_rate(self):
        return settings.API_THROTTLE_RATES[self.scope]


class ReadThrottle(_RateFromSettings):
    scope = "user"


class AnnotationThrottle(_RateFromSettings):
    scope = "annotation"
