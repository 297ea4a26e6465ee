"""The simulator's WebSocket side: tokens, the server hub, engine events -> messages.

``routes.install(spot, futures, state)`` adds ``GET /endpoint`` to both hosts, the control route
``POST /_sim/ws/faults`` to the spot host, and one pump shared by both apps. The hub is kept
on the spot app under :data:`HUB_KEY` (tests read it for counters and faults).

Control API body: ``{"kind": "drop"}`` closes every connection; ``{"kind": "expireTokens"}``
forgets every token and closes every connection (clients must fetch a new token);
``{"kind": "tokenTtl", "ttlMs": 500}`` makes tokens issued from now on live 500 ms (24 h by
default);
``{"kind": "skip"|"duplicate"|"delay", "topic": "/market/level2:BTC-USDT", "count": 3}``
applies to the next ``count`` messages of that topic (delay: held and sent after the next one).
"""
