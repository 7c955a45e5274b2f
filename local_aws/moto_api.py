"""Who may use moto's management API (``/moto-api/``: reset, reset-auth, seed, data.json, the dashboard, the recorder).

It wipes or dumps every service's state and answers without a signature, so it is off by default and refused
with a 403 naming ``--enable-moto-api``. When enabled, it is served only to requests whose verified signer
(``AWSRequest.principal``, set by the authentication filter) is the administrator; this filter therefore runs
after authentication.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from werkzeug.wrappers import Response

from local_aws import moto_seam
from local_aws.access_denied import access_denied
from local_aws.runtime import SecuritySettings

if TYPE_CHECKING:
    from local_aws.gateway import AWSRequest

DISABLED_MESSAGE = ("moto's management API (/moto-api/) is off; start local_aws with --enable-moto-api to serve it "
                    "to requests signed with the administrator's access key")
NOT_ADMINISTRATOR_MESSAGE = ("moto's management API (/moto-api/) is served only to requests signed with the "
                             "administrator's access key")


class MotoApiAccess:
    """Gateway request filter: ``/moto-api/`` requests pass only when enabled and signed by the administrator."""

    def __init__(self, security: SecuritySettings) -> None:
        self.enabled = security.enable_moto_api

    def __call__(self, aws_request: "AWSRequest") -> Response | None:
        if not moto_seam.is_moto_api_path(aws_request.request.environ.get("PATH_INFO", "")):
            return None
        if not self.enabled:
            return access_denied(aws_request, DISABLED_MESSAGE)
        if not getattr(aws_request.principal, "is_administrator", False):
            return access_denied(aws_request, NOT_ADMINISTRATOR_MESSAGE)
        return None
