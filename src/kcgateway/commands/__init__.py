"""Sub-command groups of the ``kcgateway`` command."""
