"""Several gateway instances on one database: membership, leases, change notifications.

``instances.py`` (who is live), ``leases.py`` (who owns each account), ``bus.py`` and
``propagation.py`` (what one instance changed, the others drop from memory).
"""
