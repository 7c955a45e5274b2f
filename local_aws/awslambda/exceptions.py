"""Lambda errors this runtime raises beyond moto's, with AWS's codes, status and wording."""

import json

from moto.awslambda.exceptions import LambdaClientError


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
