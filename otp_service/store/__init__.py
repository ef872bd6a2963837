"""Redis: the connection (``redis_url``), the embedded server (``redis_server``), every
key name, and the Lua scripts (``lua/``) behind one typed method each (``scripts``)."""

from otp_service.store.scripts import HISTORY_MAX, SCRIPTS, Batch, Store, connect

__all__ = ["HISTORY_MAX", "SCRIPTS", "Batch", "Store", "connect"]
