"""The ``aws_default`` connection that points Airflow at the local runtime, working as the Airflow role.

The connection's own key pair is the runtime's administrator; ``role_arn`` makes the Amazon provider assume
``pawflow-airflow`` (made by ``pawflow.account_setup``) through STS before every client, exactly as on AWS with
a worker's base credentials. STS needs its endpoint in ``service_config``: the provider never sends the
assume-role call to the connection's global ``endpoint_url``.
"""

from __future__ import annotations

from typing import Any

from pawflow.account_setup import AIRFLOW_ROLE

LOCAL_ACCOUNT_ID = "123456789012"


def airflow_role_arn(account_id: str = LOCAL_ACCOUNT_ID, role_name: str = AIRFLOW_ROLE) -> str:
    return f"arn:aws:iam::{account_id}:role/{role_name}"


def local_runtime_connection(endpoint_url: str, region_name: str, *, role_arn: str | None = None,
                             access_key_id: str = "testing", secret_access_key: str = "testing") -> dict[str, Any]:
    """An Airflow AWS connection (as ``AIRFLOW_CONN_AWS_DEFAULT`` JSON takes it) for the runtime at ``endpoint_url``.

    With ``role_arn`` every task works as that role (assumed with the administrator's keys); without, as the
    administrator.
    """
    extra: dict[str, Any] = {"endpoint_url": endpoint_url, "region_name": region_name}
    if role_arn:
        extra.update({
            "role_arn": role_arn,
            "assume_role_method": "assume_role",
            "service_config": {"sts": {"endpoint_url": endpoint_url}},
        })
    return {"conn_type": "aws", "login": access_key_id, "password": secret_access_key, "extra": extra}
