"""Several gateway instances on one database: membership (instances.py), leases (leases.py)."""
