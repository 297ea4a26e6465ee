"""The simulator's pure, deterministic matching engine and accounts."""
