"""Lambda URL rules: moto's, served by ``LocalLambdaResponse``, plus the provisioned-concurrency and account-settings paths."""

from moto.awslambda.urls import url_bases as moto_url_bases
from moto.awslambda.urls import url_paths as moto_url_paths

from local_aws.awslambda.responses import LocalLambdaResponse

url_bases = list(moto_url_bases)

url_paths = {path: LocalLambdaResponse.dispatch for path in moto_url_paths}
url_paths.update({
    r"{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[\w_:%-]+)/provisioned-concurrency/?$": LocalLambdaResponse.dispatch,
    r"{0}/(?P<api_version>[^/]+)/account-settings/?$": LocalLambdaResponse.dispatch,
})
