"""SageMaker: moto's bookkeeping plus real training jobs, tuning jobs and endpoints."""
