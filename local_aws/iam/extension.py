"""How IAM enforcement plugs into the server: AWS managed policies loaded, every request judged by its signer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from local_aws import moto_seam
from local_aws.iam.enforcement import IAMEnforcement

if TYPE_CHECKING:
    from local_aws.server import LocalAWSServer


class IAMEnforcementExtension:
    """Requests signed with runtime-issued credentials are allowed or denied as AWS would."""

    def install(self, server: "LocalAWSServer") -> None:
        moto_seam.load_aws_managed_policies()
        server.gateway.add_filter(IAMEnforcement())

    def resume(self, server: "LocalAWSServer") -> None:
        """Nothing to restart: policies are read from IAM on every request."""

    def uninstall(self, server: "LocalAWSServer") -> None:
        """Nothing to stop."""
