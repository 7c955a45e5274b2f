"""LambdaConcurrencyOperator publishes a version, points an alias, reserves and provisions concurrency."""

import json

import pytest

from pawflow.operators.lambda_concurrency import LambdaConcurrencyOperator, validate_concurrency

def run(context, **kwargs):
    return LambdaConcurrencyOperator(task_id="concurrency", waiter_delay=0.2, **kwargs).execute(context)


@pytest.mark.parametrize(
    ("reserved", "provisioned", "message"),
    [
        (5, 6, r"provisioned_concurrency must be between 0 and reserved_concurrency \(5\), got 6"),
        (-1, 0, r"reserved_concurrency must be an integer >= 0, got -1"),
        ("five", 0, r"reserved_concurrency must be an integer >= 0, got 'five'"),
        (5, True, r"provisioned_concurrency must be an integer >= 0, got True"),
    ],
)
def test_rejects_bad_numbers_when_run_before_any_call(reserved, provisioned, message):
    operator = LambdaConcurrencyOperator(task_id="c", function_name="f", reserved_concurrency=reserved,
                                         provisioned_concurrency=provisioned)
    with pytest.raises(ValueError, match=message):
        operator.execute({})


def test_a_template_rendering_a_bad_number_fails_when_run_naming_the_range():
    operator = LambdaConcurrencyOperator(task_id="c", function_name="f",
                                         reserved_concurrency="{{ params.reserved }}", provisioned_concurrency=2)
    operator.render_template_fields({"params": {"reserved": -3}})
    with pytest.raises(ValueError, match=r"reserved_concurrency must be an integer >= 0, got -3"):
        operator.execute({})


def test_rendered_numbers_are_validated_before_any_call(aws, context):
    operator = LambdaConcurrencyOperator(task_id="c", function_name="missing",
                                         reserved_concurrency="{{ params.reserved }}")
    operator.reserved_concurrency, operator.provisioned_concurrency = "1", "2"
    with pytest.raises(ValueError, match=r"between 0 and reserved_concurrency \(1\), got 2"):
        operator.execute(context)


def test_rendered_strings_become_ints():
    assert validate_concurrency("5", " 2 ") == (5, 2)


def test_missing_function_fails_clearly(aws, context):
    with pytest.raises(ValueError, match=r"Lambda function 'no-such-function' does not exist"):
        run(context, function_name="no-such-function")


def test_reserves_and_provisions_on_the_live_alias_until_ready(client, context, lambda_function):
    result = run(context, function_name=lambda_function)
    json.dumps(result)
    assert result["Alias"]["Name"] == "live"
    assert result["Alias"]["FunctionVersion"] == result["Version"] != "$LATEST"
    assert result["ReservedConcurrentExecutions"] == 5
    assert result["ProvisionedConcurrency"]["Status"] == "READY"
    assert result["ProvisionedConcurrency"]["AllocatedProvisionedConcurrentExecutions"] == 2
    lam = client("lambda")
    assert lam.get_function_concurrency(FunctionName=lambda_function)["ReservedConcurrentExecutions"] == 5


def test_a_rerun_publishes_no_new_version(client, context, lambda_function):
    first = run(context, function_name=lambda_function)
    second = run(context, function_name=lambda_function, provisioned_concurrency=1)
    assert second["Version"] == first["Version"]
    versions = client("lambda").list_versions_by_function(FunctionName=lambda_function)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", first["Version"]]
    assert second["ProvisionedConcurrency"]["RequestedProvisionedConcurrentExecutions"] == 1


def test_new_code_gets_a_new_version_and_the_alias_follows(client, context, lambda_function, zip_of):
    first = run(context, function_name=lambda_function)
    client("lambda").update_function_code(FunctionName=lambda_function,
                                          ZipFile=zip_of("def lambda_handler(e, c):\n    return 1\n"))
    second = run(context, function_name=lambda_function)
    assert int(second["Version"]) > int(first["Version"])
    assert client("lambda").get_alias(FunctionName=lambda_function, Name="live")["FunctionVersion"] == second["Version"]


def test_a_reservation_the_account_cannot_grant_fails_with_the_numbers(context, lambda_function):
    with pytest.raises(ValueError, match=r"cannot reserve 100000 concurrent executions .* at most \d+ can be reserved"):
        run(context, function_name=lambda_function, reserved_concurrency=100000, provisioned_concurrency=0)


def test_the_hook_knows_the_custom_ready_waiter_beside_botocores(aws):
    from pawflow.hooks.lambda_function import LambdaWaitersHook

    waiters = LambdaWaitersHook(aws_conn_id="aws_default").list_waiters()
    assert "ProvisionedConcurrencyReady" in waiters
    assert "function_active_v2" in waiters


def test_provisioned_concurrency_that_cannot_initialise_fails_with_lambdas_reason(client, context, lambda_function,
                                                                                 zip_of):
    client("lambda").update_function_code(FunctionName=lambda_function,
                                          ZipFile=zip_of("raise ImportError('no model here')\n"))
    client("lambda").get_waiter("function_updated_v2").wait(FunctionName=lambda_function)
    with pytest.raises(RuntimeError, match=rf"provisioned concurrency on {lambda_function}:live failed: "
                                           r"FUNCTION_ERROR_INIT_FAILURE: .*no model here"):
        run(context, function_name=lambda_function, reserved_concurrency=2, provisioned_concurrency=1)
