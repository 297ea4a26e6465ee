"""kcgateway: a self-hosted, secure broker trading gateway for KuCoin."""

__version__ = "0.1.0"
