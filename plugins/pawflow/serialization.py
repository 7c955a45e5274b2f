"""Turn boto3 responses into JSON-safe XCom values: datetimes as ISO 8601, no ResponseMetadata."""

from __future__ import annotations

import datetime
import json
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return repr(value)


def json_safe(response: Any) -> Any:
    """Return a copy of a boto3 response that ``json.dumps`` accepts, without ``ResponseMetadata``."""
    if isinstance(response, dict):
        response = {key: value for key, value in response.items() if key != "ResponseMetadata"}
    return json.loads(json.dumps(response, default=_default))
