"""Sub-commands of the ``kcgateway`` CLI, one module per command group."""
