"""The FastAPI app, its dependencies and routes."""
