"""Lambda errors this runtime raises beyond moto's, with AWS's codes, status and wording."""

import json

from local_aws.moto_seam import LambdaClientError


class TooManyRequestsException(LambdaClientError):
    """An invocation throttled for lack of concurrency (HTTP 429)."""

    code = 429

    def __init__(self, reason: str):
        super().__init__("TooManyRequestsException", "Rate Exceeded.")
        self.description = json.dumps({"Reason": reason, "Type": "User", "message": "Rate Exceeded."})


class ProvisionedConcurrencyConfigNotFoundException(LambdaClientError):
    """No provisioned-concurrency configuration exists for the qualifier (HTTP 404)."""

    code = 404

    def __init__(self) -> None:
        super().__init__("ProvisionedConcurrencyConfigNotFoundException",
                         "No Provisioned Concurrency Config found for this function")


class InvalidRequestContentException(LambdaClientError):
    """The Invoke payload is not JSON (HTTP 400)."""

    def __init__(self, detail: str) -> None:
        super().__init__("InvalidRequestContentException",
                         f"Could not parse request body into json: Could not parse payload into json: {detail}")


class RequestTooLargeException(LambdaClientError):
    """The Invoke payload is over the synchronous limit (HTTP 413)."""

    code = 413

    def __init__(self, limit: int) -> None:
        super().__init__("RequestTooLargeException",
                         f"Request must be smaller than {limit} bytes for the InvokeFunction operation")


class ValidationException(LambdaClientError):
    """A parameter breaks a constraint of the service model (HTTP 400); the message lists every one broken."""

    def __init__(self, message: str) -> None:
        super().__init__("ValidationException", message)
