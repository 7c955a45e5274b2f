"""pawflow: Airflow operators and config builders for the dog-breed SageMaker pipeline.

Importing this package is cheap: nothing heavy (torch, boto3 clients, the SageMaker SDK) loads here.
"""
