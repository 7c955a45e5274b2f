"""Who may use moto's management API (``/moto-api/``: reset, reset-auth, seed, data.json, the dashboard, the recorder),
and what its reset does to the runtime's live parts.

It wipes or dumps every service's state and answers without a signature, so it is off by default and refused
with a 403 naming ``--enable-moto-api``. When enabled, it is served only to requests whose verified signer
(``AWSRequest.principal``, set by the authentication filter) is the administrator; this filter therefore runs
after authentication. A reset that is let through first ends everything live (``LocalRuntime.reset``: serving
and Lambda workers, training and tuning jobs), so that nothing moto forgets keeps running or answering.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from werkzeug.wrappers import Response

from local_aws import moto_seam
from local_aws.aws_errors import refusal
from local_aws.runtime import LocalRuntime, SecuritySettings

if TYPE_CHECKING:
    from local_aws.gateway import AWSRequest

DISABLED_MESSAGE = ("moto's management API (/moto-api/) is off; start local_aws with --enable-moto-api to serve it "
                    "to requests signed with the administrator's access key")
NOT_ADMINISTRATOR_MESSAGE = ("moto's management API (/moto-api/) is served only to requests signed with the "
                             "administrator's access key")


RESET_PATH = "/moto-api/reset"


class MotoApiAccess:
    """Gateway request filter: ``/moto-api/`` requests pass only when enabled and signed by the administrator; a
    reset that passes ends the runtime's live work before moto forgets the records."""

    def __init__(self, security: SecuritySettings, runtime: LocalRuntime | None = None) -> None:
        self.enabled = security.enable_moto_api
        self.runtime = runtime

    def __call__(self, aws_request: "AWSRequest") -> Response | None:
        if not moto_seam.is_moto_api_path(aws_request.request.environ.get("PATH_INFO", "")):
            return None
        if not self.enabled:
            return refusal(aws_request, DISABLED_MESSAGE)
        if not getattr(aws_request.principal, "is_administrator", False):
            return refusal(aws_request, NOT_ADMINISTRATOR_MESSAGE)
        if self.runtime is not None and _is_reset(aws_request):
            self.runtime.reset()
        return None


def _is_reset(aws_request: "AWSRequest") -> bool:
    """moto resets on a POST to ``/moto-api/reset`` (any other method is answered 400 without resetting)."""
    return (aws_request.request.method == "POST"
            and aws_request.request.environ.get("PATH_INFO", "").rstrip("/") == RESET_PATH)
