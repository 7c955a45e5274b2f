"""How Lambda plugs into the server: its backend and response classes, and the runtime that runs functions."""

from __future__ import annotations

from local_aws import moto_seam
from local_aws.awslambda.models import LocalLambdaBackend, check_log_subscription, start_lambda_runtime
from local_aws.awslambda.responses import EXTRA_URL_PATHS, LocalLambdaResponse
from local_aws.extension import ServerContext


class LambdaExtension:
    """Lambda functions that really run, with reserved and provisioned concurrency acting."""

    def install(self, server: ServerContext) -> None:
        moto_seam.install_backend("lambda", LocalLambdaBackend, LocalLambdaResponse, EXTRA_URL_PATHS)
        moto_seam.route_function_invocations(check_log_subscription)

    def resume(self, server: ServerContext) -> None:
        """Start the runtime once the server's URL (the functions' AWS endpoint) is known."""
        start_lambda_runtime(server.runtime, server.endpoint_url, server.config.security.pass_env)

    def uninstall(self, server: ServerContext) -> None:
        """The Lambda runtime is shut down with the server's runtime; moto's event sources get moto's invoke back."""
        moto_seam.unroute_function_invocations()
