"""The smoke test's event, its check of the Lambda's answer, and the denial read from a refused call's log."""

import base64
import io
import json

import pytest
from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from pawflow.smoke_test import denial_in_log, invocation_outcome, smoke_event, top_prediction

DENIAL = ("User: arn:aws:sts::123456789012:assumed-role/fn-role/fn is not authorized to perform: "
          "sagemaker:InvokeEndpoint on resource: arn:aws:sagemaker:us-east-1:123456789012:endpoint/dogs")


def data_set(unique):
    return {"Bucket": unique, "Prefix": "dogImages", "DataUri": f"s3://{unique}/dogImages/"}


def test_an_image_url_makes_the_write_ups_url_event():
    assert json.loads(smoke_event({}, "https://example.com/dog.jpg", s3_hook=None)) == {"url": "https://example.com/dog.jpg"}


def test_without_a_url_the_first_test_image_is_sent_as_base64(client, aws, unique):
    s3 = client("s3")
    s3.create_bucket(Bucket=unique)
    s3.put_object(Bucket=unique, Key="dogImages/test/001.Affenpinscher/notes.txt", Body=b"not an image")
    s3.put_object(Bucket=unique, Key="dogImages/test/001.Affenpinscher/a.JPG", Body=b"\xff\xd8jpeg bytes")
    event = json.loads(smoke_event(data_set(unique), None, S3Hook(aws_conn_id="aws_default")))
    assert base64.b64decode(event["image"]) == b"\xff\xd8jpeg bytes"


def test_a_data_set_without_test_images_is_an_error(client, aws, unique):
    client("s3").create_bucket(Bucket=unique)
    with pytest.raises(ValueError, match=rf"^no .jpg/.png under s3://{unique}/dogImages/test/ for the smoke test$"):
        smoke_event(data_set(unique), "", S3Hook(aws_conn_id="aws_default"))


def test_a_200_answer_with_predictions_gives_the_top_one():
    answer = json.dumps({"statusCode": 200, "body": json.dumps({"predictions": [{"label": "a"}, {"label": "b"}]})})
    assert top_prediction(answer) == {"label": "a"}


def test_an_error_answer_fails_the_smoke_test_quoting_it():
    answer = json.dumps({"statusCode": 502, "body": json.dumps({"error": {"code": "EndpointError"}})})
    with pytest.raises(ValueError, match=r"^smoke test failed: Lambda answered 502 with \{'error': "):
        top_prediction(answer)


def test_the_denial_is_cut_from_the_log_line_at_awss_wording():
    tail = f"START RequestId: 1\n[ERROR] ClientError: An error occurred (AccessDeniedException): {DENIAL}\nEND\n"
    assert denial_in_log(tail) == DENIAL


def test_a_log_without_a_denial_has_none():
    assert denial_in_log("START RequestId: 1\nEND RequestId: 1\n") is None


def test_a_refused_invocation_records_the_functions_error_and_awss_denial():
    body = {"error": {"code": "AccessDenied", "message": "the endpoint refused the function"}}
    response = {"Payload": io.BytesIO(json.dumps({"statusCode": 403, "body": json.dumps(body)}).encode()),
                "LogResult": base64.b64encode(f"[ERROR] {DENIAL}\n".encode()).decode()}
    assert invocation_outcome(response) == {"StatusCode": 403, "Code": "AccessDenied",
                                            "Message": "the endpoint refused the function", "AwsError": DENIAL}


def test_an_answered_invocation_says_the_role_may_already_invoke():
    response = {"Payload": io.BytesIO(json.dumps({"statusCode": 200, "body": "{\"predictions\": [1]}"}).encode())}
    outcome = invocation_outcome(response)
    assert (outcome["StatusCode"], outcome["Code"], outcome["AwsError"]) == (200, None, None)
    assert outcome["Message"] == "answered with predictions: the role may already invoke the endpoint"
