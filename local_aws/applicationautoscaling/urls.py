"""Application Auto Scaling URL rules: moto's, served by ``LocalApplicationAutoScalingResponse``."""

from moto.applicationautoscaling.urls import url_bases as moto_url_bases
from moto.applicationautoscaling.urls import url_paths as moto_url_paths

from local_aws.applicationautoscaling.responses import LocalApplicationAutoScalingResponse

url_bases = list(moto_url_bases)

url_paths = {path: LocalApplicationAutoScalingResponse.dispatch for path in moto_url_paths}
