"""The project's own Lambda (``lambda/``, packaged by pawflow) in front of an endpoint: the write-up's IAM story."""

from __future__ import annotations

import json
import uuid

import pytest

from pawflow.lambda_package import build_lambda_package
from tests.served_endpoints import in_service_endpoint, serve_model, upload_model
from tests.timeouts import scaled

ACCOUNT = "123456789012"
TEST_EVENT = {"url": "https://s3.amazonaws.com/cdn-origin-etr.akc.org/wp-content/uploads/2017/11/20113314/"
                     "Carolina-Dog-standing-outdoors.jpg"}
BREEDS = """
import json


def model_fn(model_dir):
    return ["Affenpinscher", "Carolina_dog", "Dalmatian"]


def input_fn(body, content_type):
    request = json.loads(body)
    if "url" not in request:
        raise ValueError("no url")
    return request


def predict_fn(request, labels):
    return [{"index": i, "label": label, "probability": p} for i, (label, p) in enumerate(zip(labels, [0.1, 0.8, 0.1]))]


def output_fn(predictions, accept):
    return json.dumps({"predictions": predictions}), "application/json"
"""


@pytest.fixture
def breed_endpoint(aws, create_sagemaker_role, wait_until) -> str:
    sagemaker = aws("sagemaker")
    name = f"dog-breeds-{uuid.uuid4().hex[:6]}"
    serve_model(sagemaker, name, role_arn=create_sagemaker_role(aws("iam")),
                model_data_url=upload_model(aws("s3"), name, BREEDS))
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    in_service_endpoint(sagemaker, name, wait_until, timeout=scaled(40))
    return name


def test_the_project_lambda_is_denied_until_its_role_may_invoke_the_endpoint(aws, lambda_role, breed_endpoint):
    package = build_lambda_package()
    lam, iam = aws("lambda"), aws("iam")
    function = f"dog-breed-front-{uuid.uuid4().hex[:6]}"
    created = lam.create_function(
        FunctionName=function, Runtime="python3.11", Role=f"arn:aws:iam::{ACCOUNT}:role/{lambda_role}",
        Handler="lambda_function.lambda_handler", Code={"ZipFile": package.zip_bytes}, Timeout=30,
        Environment={"Variables": {"ENDPOINT_NAME": breed_endpoint}})
    assert created["CodeSha256"] == package.code_sha256

    def call() -> dict:
        answer = json.loads(lam.invoke(FunctionName=function, Payload=json.dumps(TEST_EVENT).encode())["Payload"].read())
        return {"status": answer["statusCode"], "body": json.loads(answer["body"])}

    denied = call()
    assert denied["status"] == 502
    assert denied["body"]["error"]["code"] == "EndpointAccessDenied"
    events = aws("logs").filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
    assert any(f"is not authorized to perform: sagemaker:InvokeEndpoint on resource: "
               f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/{breed_endpoint} because no identity-based policy "
               f"allows the sagemaker:InvokeEndpoint action" in event["message"] for event in events)

    iam.put_role_policy(RoleName=lambda_role, PolicyName="invoke-dog-breeds", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sagemaker:InvokeEndpoint",
                       "Resource": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/{breed_endpoint}"}],
    }))
    allowed = call()

    assert allowed["status"] == 200
    assert allowed["body"]["endpoint"] == breed_endpoint
    assert allowed["body"]["predictions"][0] == {"label": "Carolina_dog", "index": 1, "probability": 0.8}
