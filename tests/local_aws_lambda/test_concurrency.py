"""Reserved and provisioned concurrency act: throttles past the reservation, warm pre-initialised environments."""

from __future__ import annotations

import base64
import json
import threading

import pytest
from botocore.exceptions import ClientError

HOLDS = """
import os
import time


def lambda_handler(event, context):
    deadline = time.monotonic() + 20
    while "release" in event and not os.path.exists(event["release"]) and time.monotonic() < deadline:
        time.sleep(0.02)
    return {"ok": True}
"""

REPORTS_ITS_START = """
import os


def lambda_handler(event, context):
    return {"initialization_type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"], "pid": os.getpid()}
"""


def test_invocations_beyond_reserved_concurrency_are_throttled_with_429(aws, create_function, wait_until, tmp_path):
    name = create_function({"lambda_function.py": HOLDS})
    client = aws("lambda")
    client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    release = tmp_path / "release"
    outcomes: list[object] = []
    lock = threading.Lock()

    def call() -> None:
        try:
            response = client.invoke(FunctionName=name, Payload=json.dumps({"release": str(release)}).encode())
            outcome: object = response["StatusCode"]
        except ClientError as error:
            outcome = error
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=call) for _ in range(5)]
    for thread in threads:
        thread.start()
    throttles = wait_until(lambda: [o for o in list(outcomes) if isinstance(o, ClientError)],
                           lambda found: len(found) == 3)
    release.touch()
    for thread in threads:
        thread.join()

    assert sorted(o for o in outcomes if not isinstance(o, ClientError)) == [200, 200]
    for throttle in throttles:
        assert throttle.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert throttle.response["Error"]["Code"] == "TooManyRequestsException"
        assert throttle.response["Error"]["Message"] == "Rate Exceeded."
        assert throttle.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_zero_reserved_concurrency_throttles_every_invocation(aws, create_function):
    name = create_function({"lambda_function.py": HOLDS})
    client = aws("lambda")
    client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)

    with pytest.raises(ClientError) as error:
        client.invoke(FunctionName=name, Payload=b"{}")

    assert error.value.response["Error"]["Code"] == "TooManyRequestsException"


def test_account_settings_report_the_limit_and_what_reservations_leave(aws, create_function):
    name = create_function({"lambda_function.py": HOLDS})
    client = aws("lambda")
    before = client.get_account_settings()["AccountLimit"]

    client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)

    after = client.get_account_settings()["AccountLimit"]
    assert before["ConcurrentExecutions"] == after["ConcurrentExecutions"] == 1000
    assert after["UnreservedConcurrentExecutions"] == before["UnreservedConcurrentExecutions"] - 5


def test_a_reservation_may_not_leave_less_than_100_unreserved(aws, create_function):
    name = create_function({"lambda_function.py": HOLDS})
    client = aws("lambda")
    unreserved = client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]

    with pytest.raises(ClientError) as error:
        client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=unreserved - 99)

    assert error.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert error.value.response["Error"]["Message"] == (
        "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
        "below its minimum value of [100].")


def test_provisioned_concurrency_becomes_ready_with_warm_environments(aws, create_function, wait_until):
    name = create_function({"lambda_function.py": REPORTS_ITS_START})
    client = aws("lambda")
    version = client.publish_version(FunctionName=name)["Version"]
    client.create_alias(FunctionName=name, Name="live", FunctionVersion=version)

    put = client.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live",
                                                    ProvisionedConcurrentExecutions=2)
    assert (put["Status"], put["RequestedProvisionedConcurrentExecutions"]) == ("IN_PROGRESS", 2)
    ready = wait_until(lambda: client.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live"),
                       lambda config: config["Status"] == "READY")
    assert ready["AllocatedProvisionedConcurrentExecutions"] == 2
    assert ready["AvailableProvisionedConcurrentExecutions"] == 2

    response = client.invoke(FunctionName=name, Qualifier="live", Payload=b"{}", LogType="Tail")

    assert json.loads(response["Payload"].read())["initialization_type"] == "provisioned-concurrency"
    report = [line for line in base64.b64decode(response["LogResult"]).decode().splitlines() if line.startswith("REPORT")]
    assert len(report) == 1 and "Init Duration" not in report[0]


def test_an_on_demand_cold_start_reports_its_init_duration(aws, create_function):
    name = create_function({"lambda_function.py": REPORTS_ITS_START})

    response = aws("lambda").invoke(FunctionName=name, Payload=b"{}", LogType="Tail")

    assert json.loads(response["Payload"].read())["initialization_type"] == "on-demand"
    assert "Init Duration: " in base64.b64decode(response["LogResult"]).decode()


def test_provisioned_concurrency_on_latest_is_refused(aws, create_function):
    name = create_function({"lambda_function.py": HOLDS})

    with pytest.raises(ClientError) as error:
        aws("lambda").put_provisioned_concurrency_config(FunctionName=name, Qualifier="$LATEST",
                                                         ProvisionedConcurrentExecutions=1)

    assert error.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert error.value.response["Error"]["Message"] == (
        "Provisioned Concurrency Configs cannot be applied to unpublished function versions.")


def test_provisioned_configs_are_listed_and_deleted(aws, create_function, wait_until):
    name = create_function({"lambda_function.py": HOLDS})
    client = aws("lambda")
    version = client.publish_version(FunctionName=name)["Version"]
    client.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1)

    listed = client.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"]
    assert [c["FunctionArn"] for c in listed] == [f"arn:aws:lambda:us-east-1:123456789012:function:{name}:{version}"]

    client.delete_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
    with pytest.raises(ClientError) as error:
        client.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
    assert error.value.response["Error"]["Code"] == "ProvisionedConcurrencyConfigNotFoundException"
