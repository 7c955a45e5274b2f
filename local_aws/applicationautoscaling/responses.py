"""Application Auto Scaling responses: moto's, plus DescribeScalingActivities."""

import json

from local_aws.applicationautoscaling.models import LocalApplicationAutoscalingBackend
from local_aws.moto_seam import ApplicationAutoScalingResponse


class LocalApplicationAutoScalingResponse(ApplicationAutoScalingResponse):
    """Adds DescribeScalingActivities."""

    @property
    def applicationautoscaling_backend(self) -> LocalApplicationAutoscalingBackend:
        return super().applicationautoscaling_backend

    def describe_scaling_activities(self) -> str:
        self._validate_params()
        activities = self.applicationautoscaling_backend.describe_scaling_activities(
            self._get_param("ServiceNamespace"), self._get_param("ResourceId"), self._get_param("ScalableDimension"))
        max_results = self._get_int_param("MaxResults") or 50
        start = int(self._get_param("NextToken") or 0)
        page = activities[start:start + max_results]
        body = {"ScalingActivities": [activity.to_dict() for activity in page]}
        if start + max_results < len(activities):
            body["NextToken"] = str(start + max_results)
        return json.dumps(body)
