"""The KuCoin-compatible facade's rules: credentials, routes, and the use case that serves them."""
