"""The web console's use cases: sessions opened with a gateway key, and the pages' reads.

The console (``kcgateway.web.console``) renders; the rules are here and in the services the
/v1 routes call, so a browser session can do exactly what its key can do over /v1.
"""

from kcgateway.gateway.console.sessions import ConsoleSession, ConsoleSessions, SessionPolicy

__all__ = ["ConsoleSession", "ConsoleSessions", "SessionPolicy"]
