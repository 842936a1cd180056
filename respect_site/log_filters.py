"""Logging filters of the site.

Entry links carry the crowdsourcing platform's worker and assignment/session ids, which the platform
stores only as keyed hashes; server access logs (Daphne's runserver logs every refused request with
its full URL) must not write them out either. ``RedactParticipantIds`` replaces their values in any
record that passes the console handler.
"""
import logging
import re

ID_PARAMETERS = ("workerId", "assignmentId", "hitId", "PROLIFIC_PID", "SESSION_ID", "STUDY_ID", "turkSubmitTo")
_ID_VALUE = re.compile(r"(?i)\b(" + "|".join(ID_PARAMETERS) + r")(=|%3D)[^&\s\"'#]*")


def redact_ids(text: str) -> str:
    return _ID_VALUE.sub(lambda match: f"{match.group(1)}{match.group(2)}[redacted]", text)


class RedactParticipantIds(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the formatter's problem, not ours
            return True
        redacted = redact_ids(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_text:
            record.exc_text = redact_ids(record.exc_text)
        return True
