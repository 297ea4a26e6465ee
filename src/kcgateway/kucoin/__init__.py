"""The pure KuCoin protocol core: no I/O, no clocks, `now` is always passed in."""
