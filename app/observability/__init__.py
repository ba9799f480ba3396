"""Metrics, request logs and request limits: what an operator sees of the service, and what it refuses."""
