"""Application Auto Scaling responses: moto's, plus DescribeScalingActivities."""

import json

from local_aws.applicationautoscaling.models import LocalApplicationAutoscalingBackend
from local_aws.moto_seam import (
    ApplicationAutoScalingResponse,
    request_int_param,
    request_param,
    validate_autoscaling_request,
)


class LocalApplicationAutoScalingResponse(ApplicationAutoScalingResponse):
    """Adds DescribeScalingActivities."""

    @property
    def applicationautoscaling_backend(self) -> LocalApplicationAutoscalingBackend:
        return super().applicationautoscaling_backend

    def describe_scaling_activities(self) -> str:
        validate_autoscaling_request(self)
        activities = self.applicationautoscaling_backend.describe_scaling_activities(
            request_param(self, "ServiceNamespace"), request_param(self, "ResourceId"),
            request_param(self, "ScalableDimension"))
        max_results = request_int_param(self, "MaxResults") or 50
        start = int(request_param(self, "NextToken") or 0)
        page = activities[start:start + max_results]
        body = {"ScalingActivities": [activity.to_dict() for activity in page]}
        if start + max_results < len(activities):
            body["NextToken"] = str(start + max_results)
        return json.dumps(body)
