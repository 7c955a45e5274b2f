"""Application Auto Scaling that acts: target tracking scales SageMaker endpoint variants between min and max."""
