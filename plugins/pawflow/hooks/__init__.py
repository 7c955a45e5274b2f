"""Thin boto3 hooks for the AWS services the Amazon provider has no hook for."""
