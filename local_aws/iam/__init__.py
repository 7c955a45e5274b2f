"""IAM for the local runtime: identity-based policy documents, validated and evaluated as AWS evaluates them."""
