"""The execution role a run names resolves to its ARN; a missing one is a clear error."""

import pytest

from pawflow.execution_role import execution_role_arn


def test_an_arn_is_taken_as_it_is(client):
    arn = "arn:aws:iam::123456789012:role/elsewhere"
    assert execution_role_arn(client("iam"), arn) == arn


def test_a_role_name_resolves_to_the_roles_arn(client, create_sagemaker_role, unique):
    arn = create_sagemaker_role(client("iam"), f"{unique}-role")
    assert execution_role_arn(client("iam"), f"{unique}-role") == arn


def test_a_missing_role_name_raises_naming_the_role(client, unique):
    with pytest.raises(ValueError, match=rf"^SageMaker execution role '{unique}-absent' does not exist; create it "
                                         r"\(README, 'SageMaker execution role'\) or pass its ARN$"):
        execution_role_arn(client("iam"), f"{unique}-absent")
