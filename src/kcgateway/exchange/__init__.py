"""I/O adapters around the protocol core: transport, REST client, services, streams."""
