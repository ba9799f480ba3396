"""Training scripts for the two served models: `python -m training.logistic`, `python -m training.mnist`."""
