"""Use cases: place and cancel orders, reconcile, onboard accounts, ingest signals."""
