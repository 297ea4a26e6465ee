"""Typed KuCoin services (market, account, spot, margin, futures, broker, ws tokens)."""
