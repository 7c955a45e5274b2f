"""The pipeline's smoke test of the Lambda in front of the endpoint: the event it sends, the check of the answer,
and the record of a call refused for want of a grant (the IAM denial read from the Lambda's log tail)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

#: Image files the smoke test may send from the data set's ``test/`` folder.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
#: How AWS words an identity-policy denial, and where the quoted part of its message starts.
DENIAL_WORDING = "is not authorized to perform"
DENIAL_START = "User: "


def smoke_event(data: Mapping[str, str], image_url: str | None, s3_hook: Any) -> str:
    """
    Return the write-up's ``{"url": ...}`` event, or the first test image of the data set as ``{"image": <base64>}``.

    :param data: ``DatasetSyncOperator``'s result (``Bucket``, ``Prefix``, ``DataUri``).
    :param image_url: An image URL for the ``url`` event; None or empty sends an image from the data set.
    :param s3_hook: An ``S3Hook`` that reads the data set.
    :raises ValueError: The data set's ``test/`` folder holds no image.
    """
    if image_url:
        return json.dumps({"url": image_url})
    keys = [key for key in s3_hook.list_keys(bucket_name=data["Bucket"], prefix=f"{data['Prefix']}/test/",
                                             max_items=50)
            if key.lower().endswith(IMAGE_SUFFIXES)]
    if not keys:
        raise ValueError(f"no .jpg/.png under {data['DataUri']}test/ for the smoke test")
    image = s3_hook.get_key(keys[0], bucket_name=data["Bucket"]).get()["Body"].read()
    return json.dumps({"image": base64.b64encode(image).decode("ascii")})


def top_prediction(answer: str) -> dict[str, Any]:
    """Return the first prediction of the Lambda's answer; raise ValueError unless it answered 200 with some."""
    response = json.loads(answer)
    body = json.loads(response.get("body") or "{}")
    if response.get("statusCode") != 200 or not body.get("predictions"):
        raise ValueError(f"smoke test failed: Lambda answered {response.get('statusCode')} with {body}")
    return body["predictions"][0]


def denial_in_log(log_tail: str) -> str | None:
    """Return AWS's denial message (from ``User: ``) in a Lambda log tail, the whole line without it, or None."""
    line = next((line for line in log_tail.splitlines() if DENIAL_WORDING in line), None)
    if line is None or DENIAL_START not in line:
        return line
    return line[line.index(DENIAL_START):]


def invocation_outcome(response: Mapping[str, Any]) -> dict[str, Any]:
    """
    Return ``{"StatusCode", "Code", "Message", "AwsError"}`` of a ``LogType=Tail`` Invoke response.

    ``Code`` and ``Message`` are the function's own error; ``AwsError`` is the IAM denial its log shows, if any.
    """
    answer = json.loads(response["Payload"].read())
    error = json.loads(answer.get("body") or "{}").get("error") or {}
    log_tail = base64.b64decode(response.get("LogResult") or b"").decode("utf-8", "replace")
    return {
        "StatusCode": answer.get("statusCode"),
        "Code": error.get("code"),
        "Message": error.get("message") or "answered with predictions: the role may already invoke the endpoint",
        "AwsError": denial_in_log(log_tail),
    }
