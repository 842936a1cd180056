"""Page-number pagination with a bounded, validated page size."""
from django.conf import settings
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class Pages(PageNumberPagination):
    """``?page=N`` (from 1) and ``?page_size=N`` (1 to ``API_MAX_PAGE_SIZE``; ``API_PAGE_SIZE`` by default).

    A page size out of range or not a number is refused (400) rather than silently replaced."""

    page_size_query_param = "page_size"

    @property
    def page_size(self):
        return settings.API_PAGE_SIZE

    @property
    def max_page_size(self):
        return settings.API_MAX_PAGE_SIZE

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError({"page_size": f"must be a whole number from 1 to {self.max_page_size}, not {raw!r}"})
        return int(raw)
