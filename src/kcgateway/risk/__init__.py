"""Pre-trade risk rules, the risk engine and the kill switch."""
