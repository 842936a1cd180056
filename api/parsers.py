"""Request bodies: JSON only, and small (annotation payloads are a few hundred bytes)."""
import io

from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.parsers import JSONParser

MAX_BODY_BYTES = 16 * 1024


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = f"Request body too large (at most {MAX_BODY_BYTES} bytes)."
    default_code = "payload_too_large"


class BoundedJSONParser(JSONParser):
    """JSON, refused with 413 beyond ``MAX_BODY_BYTES`` (read no further than that)."""

    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge()
        return super().parse(io.BytesIO(body), media_type, parser_context)
