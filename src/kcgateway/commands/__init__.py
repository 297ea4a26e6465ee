"""Sub-commands of the ``kcgateway`` command line, one module per command group."""
