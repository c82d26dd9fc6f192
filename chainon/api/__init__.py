"""The HTTP API: FastAPI under ``/v1``, scoped to the brand of the caller's API key."""
