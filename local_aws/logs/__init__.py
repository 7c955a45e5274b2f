"""CloudWatch Logs as written by the runtime's jobs and endpoints."""
