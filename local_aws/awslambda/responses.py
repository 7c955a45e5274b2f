"""Lambda API responses: moto's, with Invoke answered from a real run and the operations moto lacks added."""

import json
from typing import Any
from urllib.parse import unquote

from local_aws.awslambda.exceptions import ValidationException
from local_aws.awslambda.models import LocalLambdaBackend
from local_aws.moto_seam import TYPE_RESPONSE, LambdaResponse, operation_name
from local_aws.request_validation import validation_message

# URL rules moto lacks: provisioned concurrency (Put/Get/Delete/List) and GetAccountSettings.
EXTRA_URL_PATHS = (
    r"{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[\w_:%-]+)/provisioned-concurrency/?$",
    r"{0}/(?P<api_version>[^/]+)/account-settings/?$",
)


class LocalLambdaResponse(LambdaResponse):
    """Adds Invoke that runs the handler, provisioned concurrency and GetAccountSettings, and refuses requests
    whose function name, qualifier or alias name breaks the service model's constraints."""

    @property
    def backend(self) -> LocalLambdaBackend:
        return super().backend

    def call_action(self) -> TYPE_RESPONSE:
        operation = operation_name(self)
        if operation:
            self.parse_parameters(self.normalized_request)  # names from the URL path, query string and body
            message = validation_message("lambda", operation, self.params)
            if message is not None:
                error = ValidationException(message)
                headers = {"content-type": "application/json", "x-amzn-ErrorType": error.error_type}
                return error.code, headers, error.description
        self.invocation_request_id: str | None = None
        status, headers, body = super().call_action()
        if self.invocation_request_id is not None:  # the invocation's own id, not the one moto makes up
            headers.pop("x-amzn-RequestId", None)
            headers["x-amzn-requestid"] = self.invocation_request_id
        return status, headers, body

    def invoke(self) -> TYPE_RESPONSE:
        function_name = unquote(self.path.rsplit("/", 2)[-2])
        qualifier = self.querystring.get("Qualifier", [None])[0]
        invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        body = self.body if isinstance(self.body, bytes) else (self.body or "").encode()
        result = self.backend.invoke_function(function_name, qualifier, body, invocation_type,
                                              self.headers.get("X-Amz-Client-Context"))
        if invocation_type == "DryRun":
            return 204, {"status": 204}, ""
        self.invocation_request_id = result.request_id  # the id the run logs under (START/END/REPORT lines)
        if invocation_type == "Event":  # accepted: no payload
            return 202, {"status": 202}, ""
        headers: dict[str, Any] = {"content-type": "application/json", "X-Amz-Executed-Version": result.executed_version}
        if result.function_error:
            headers["X-Amz-Function-Error"] = result.function_error
        if self.headers.get("X-Amz-Log-Type") == "Tail":
            headers["X-Amz-Log-Result"] = result.log_tail
        return 200, headers, result.payload

    def put_provisioned_concurrency_config(self) -> TYPE_RESPONSE:
        config = self.backend.put_provisioned_concurrency_config(
            self._function_name_from_path(), self.querystring.get("Qualifier", [None])[0],
            int(self.json_body["ProvisionedConcurrentExecutions"]))
        return 202, {"status": 202, "content-type": "application/json"}, json.dumps(config)

    def get_provisioned_concurrency_config(self) -> TYPE_RESPONSE:
        config = self.backend.get_provisioned_concurrency_config(
            self._function_name_from_path(), self.querystring.get("Qualifier", [None])[0])
        return 200, {"content-type": "application/json"}, json.dumps(config)

    def delete_provisioned_concurrency_config(self) -> TYPE_RESPONSE:
        self.backend.delete_provisioned_concurrency_config(
            self._function_name_from_path(), self.querystring.get("Qualifier", [None])[0])
        return 204, {"status": 204}, ""

    def list_provisioned_concurrency_configs(self) -> TYPE_RESPONSE:
        configs = self.backend.list_provisioned_concurrency_configs(self._function_name_from_path())
        return 200, {"content-type": "application/json"}, json.dumps({"ProvisionedConcurrencyConfigs": configs})

    def get_account_settings(self) -> TYPE_RESPONSE:
        return 200, {"content-type": "application/json"}, json.dumps(self.backend.get_account_settings())

    def _function_name_from_path(self) -> str:
        return unquote(self.path.split("?")[0].rstrip("/").rsplit("/", 2)[-2])
