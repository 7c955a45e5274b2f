"""A training script that fails the way user code fails: an exception with a message."""

import sys

print("loading data")
print("about to fail", file=sys.stderr)
raise ValueError("the training data has no class folders")
