"""Several gateway instances on one database: membership (instances.py), leases (leases.py),
change notifications (bus.py, propagation.py)."""
