"""SageMaker Runtime: InvokeEndpoint answered by the endpoint's serving workers."""
