"""kucoin_sim: a KuCoin-compatible exchange simulator, a peer of KuCoin for offline tests."""
