"""How SageMaker plugs into the server: its backend class, the InvokeEndpoint route, resuming after a restart."""

from __future__ import annotations

from local_aws import moto_seam
from local_aws.extension import ServerContext
from local_aws.sagemaker.endpoints import restart_endpoint
from local_aws.sagemaker.models import LocalSageMakerBackend
from local_aws.sagemaker.responses import LocalSageMakerResponse
from local_aws.sagemaker_runtime.responses import InvokeEndpointHandler
from local_aws.state import fail_interrupted_jobs


class SageMakerExtension:
    """SageMaker and SageMaker Runtime doing real work."""

    def install(self, server: ServerContext) -> None:
        moto_seam.install_backend("sagemaker", LocalSageMakerBackend, LocalSageMakerResponse)
        InvokeEndpointHandler(server.runtime.endpoints, authorizer=server.authorizer).register(server.gateway)

    def resume(self, server: ServerContext) -> None:
        """After a restart: interrupted jobs become Failed, endpoints that were serving start again."""
        for _, _, backend in moto_seam.backends_of("sagemaker"):
            fail_interrupted_jobs(backend)
            for endpoint in moto_seam.sagemaker_endpoints(backend):
                if endpoint.endpoint_status != "Failed":
                    restart_endpoint(server.runtime.endpoints, backend, endpoint)

    def uninstall(self, server: ServerContext) -> None:
        """Nothing to stop: training, tuning and endpoints are shut down with the server's runtime."""
