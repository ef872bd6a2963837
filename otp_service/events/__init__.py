"""Events out: the outbox, the worker that delivers them, the endpoints' HTTP."""
