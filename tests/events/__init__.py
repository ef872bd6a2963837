"""Outgoing webhooks: the endpoints' HTTP (and, later, the outbox and its worker)."""
