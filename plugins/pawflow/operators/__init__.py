"""pawflow operators: AWS steps the Amazon provider has no operator for, written in its style."""
