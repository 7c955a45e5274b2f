"""CloudWatch metrics published by the runtime's endpoints."""
