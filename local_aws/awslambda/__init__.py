"""Lambda that really runs: handlers in worker processes, versions and aliases, reserved and provisioned concurrency."""
