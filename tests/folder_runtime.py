"""The local AWS runtime a test folder shares: one ``python -m local_aws`` child per folder.

A fixture's ``package`` scope is the folder of the conftest that registers it, so each folder's conftest imports
these two (``from tests.folder_runtime import aws, server``): defined once here, they would be registered by the
root conftest alone and shared by every folder on a worker (one folder's roles, resets and IAM judgements
leaking into another's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.aws_clients import client_factory


@pytest.fixture(scope="package")
def server(request, tmp_path_factory, server_arguments) -> Iterator[Any]:
    """The package's local AWS runtime: a ``python -m local_aws`` child on a free loopback port."""
    from local_aws.server import ServerProcess

    with ServerProcess(tmp_path_factory.mktemp(request.node.path.name), *server_arguments) as running:
        yield running


@pytest.fixture(scope="package")
def aws(server) -> Callable[..., Any]:
    """``aws(service, credentials=None)``: a boto3 client of the package's server, without client-side retries
    (a throttle must reach the test); the administrator's credentials unless others (as STS returns them)."""
    return client_factory(server.endpoint_url)
