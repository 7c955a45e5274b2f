"""How authentication and IAM enforcement plug into the server: every request's signature verified first, then the
signer's policies judged (AWS managed policies loaded)."""

from __future__ import annotations

from local_aws import moto_seam
from local_aws.extension import ServerContext
from local_aws.health import HEALTH_PATH, health
from local_aws.iam.authentication import Authentication
from local_aws.iam.authorization import Authorizer
from local_aws.iam.judgement_log import JUDGEMENTS_FILE, JudgementLog
from local_aws.iam.service_access import ServiceAccess


class AuthenticationExtension:
    """Every request signed (SigV4) by credentials the runtime knows, else refused; the health check unsigned."""

    def install(self, server: ServerContext) -> None:
        server.gateway.add_filter(Authentication(server.config.security))
        server.gateway.add_route("", ["GET", "HEAD"], HEALTH_PATH, health)

    def resume(self, server: ServerContext) -> None:
        """Nothing to restart: credentials are read from the settings, IAM and STS on every request."""

    def uninstall(self, server: ServerContext) -> None:
        """Nothing to stop."""


class IAMEnforcementExtension:
    """Calls signed with runtime-issued credentials are allowed or denied as AWS would, and recorded; so is what
    the services themselves do with execution roles."""

    def __init__(self) -> None:
        self.authorizer: Authorizer | None = None

    def install(self, server: ServerContext) -> None:
        moto_seam.load_aws_managed_policies()
        self.authorizer = Authorizer(JudgementLog(server.state_dir / JUDGEMENTS_FILE))
        server.authorizer = self.authorizer
        server.runtime.set_service_access(ServiceAccess(self.authorizer))
        moto_seam.install_authorization(self.authorizer)

    def resume(self, server: ServerContext) -> None:
        """Nothing to restart: policies are read from IAM on every call."""

    def uninstall(self, server: ServerContext) -> None:
        moto_seam.uninstall_authorization()
