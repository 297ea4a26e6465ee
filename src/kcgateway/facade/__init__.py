"""The KuCoin-compatible listener: protocol shaping only (the rules live in gateway/facade)."""
