"""Log lines an operator can search, that never carry a secret or a customer's contact details.

``tightrope serve`` hands uvicorn :func:`log_config`: every record of the
gateway (``tightrope.*``) and of uvicorn goes out either as one JSON object per
line (``TIGHTROPE_LOG_FORMAT=json``, the default outside dev mode) with the
request id as a field, or as text with ``[request <id>]``.

Nothing is meant to log a secret: tokens, passwords, client secrets and the PII
key never reach a log call, and contact details are not read on the request
path at all (tests/gateway/test_logs.py holds it, at every level). The
formatters still scrub what looks like one, because a log line outlives the
mistake that wrote it: a third-party plugin's exception message holding an
email, a URL with a code in its query. JWTs, ``Bearer``/``Basic`` credentials,
``password=``-style pairs and email addresses are replaced before a line is
written.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from uvicorn.logging import AccessFormatter, DefaultFormatter

from gateway.web.requestid import RequestIdLogFilter, current_request_id

_SCRUB = (
    # A JWT (header.payload.signature, each base64url; the header starts {" = eyJ).
    (re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*"), "[jwt]"),
    (re.compile(r"\b(Bearer|Basic)\s+[\w\-.~+/=]+", re.IGNORECASE), r"\1 [redacted]"),
    (
        re.compile(
            r"\b(password|passwd|secret|client_secret|token|access_token|refresh_token"
            r"|code|code_verifier|pii_key)(['\"]?\s*[=:]\s*['\"]?)[^\s&'\",}]+",
            re.IGNORECASE,
        ),
        r"\1\2[redacted]",
    ),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[email]"),
)


def scrub(text: str) -> str:
    """``text`` with what looks like a credential or an email address replaced."""
    for pattern, replacement in _SCRUB:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, request id, message, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", None) or current_request_id(),
            "message": scrub(record.getMessage()),
        }
        if record.exc_info:
            line["exception"] = scrub(self.formatException(record.exc_info))
        if record.stack_info:
            line["stack"] = scrub(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class UvicornFormatter(DefaultFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class UvicornAccessFormatter(AccessFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def log_config(json_lines: bool = False) -> dict[str, Any]:
    """uvicorn's logging, plus our ``tightrope.*`` loggers; request ids on every line."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"request_id": {"()": RequestIdLogFilter}}
    formatters = config["formatters"]
    if json_lines:
        for name in ("default", "access"):
            formatters[name] = {"()": JsonFormatter}
        formatters["tightrope"] = {"()": JsonFormatter}
    else:
        formatters["default"]["()"] = UvicornFormatter
        formatters["access"]["()"] = UvicornAccessFormatter
        formatters["tightrope"] = {
            "()": TextFormatter,
            "fmt": "%(asctime)s %(levelname)s %(name)s [request %(request_id)s] %(message)s",
        }
    for handler in config["handlers"].values():
        handler["filters"] = ["request_id"]
    config["handlers"]["tightrope"] = {
        "class": "logging.StreamHandler",
        "formatter": "tightrope",
        "filters": ["request_id"],
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["tightrope"] = {
        "handlers": ["tightrope"],
        "level": "INFO",
        "propagate": False,
    }
    return config
