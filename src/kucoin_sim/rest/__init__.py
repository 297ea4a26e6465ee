"""KuCoin-shaped REST routes of the simulator, grouped by area."""
