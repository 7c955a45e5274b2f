"""The runtime's health check: ``GET /_local_aws/health``, the one route answered to unsigned requests."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Request, Response

HEALTH_PATH = "/_local_aws/health"


def is_health_check(request: Request) -> bool:
    return request.method in ("GET", "HEAD") and request.path == HEALTH_PATH


def health(aws_request: Any) -> Response:
    """``{"status": "running"}``: the server answers. Nothing about its state or version."""
    return Response(json.dumps({"status": "running"}), content_type="application/json")
