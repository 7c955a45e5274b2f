"""How IAM enforcement plugs into the server: AWS managed policies loaded, every call judged where moto parsed it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from local_aws import moto_seam
from local_aws.iam.authorization import Authorizer
from local_aws.iam.judgement_log import JUDGEMENTS_FILE, JudgementLog

if TYPE_CHECKING:
    from local_aws.server import LocalAWSServer


class IAMEnforcementExtension:
    """Calls signed with runtime-issued credentials are allowed or denied as AWS would, and recorded."""

    def __init__(self) -> None:
        self.authorizer: Authorizer | None = None

    def install(self, server: "LocalAWSServer") -> None:
        moto_seam.load_aws_managed_policies()
        self.authorizer = Authorizer(JudgementLog(server.state_dir / JUDGEMENTS_FILE))
        server.authorizer = self.authorizer
        moto_seam.install_authorization(self.authorizer)

    def resume(self, server: "LocalAWSServer") -> None:
        """Nothing to restart: policies are read from IAM on every call."""

    def uninstall(self, server: "LocalAWSServer") -> None:
        moto_seam.uninstall_authorization()
