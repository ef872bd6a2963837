"""``client.messaging.rcs``: RCS agents and capability lookups."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from .._pagination import Page
from ._base import Resource


class Messaging(Resource):
    @cached_property
    def rcs(self) -> MessagingRcs:
        return MessagingRcs(self._client)


class MessagingRcs(Resource):
    @cached_property
    def agents(self) -> RcsAgents:
        return RcsAgents(self._client)

    def list_bulk_capabilities(
        self, *, agent_id: str, phone_numbers: list[str], **extra: Any
    ) -> list[dict[str, Any]]:
        return self._op("ListRCSCapabilitiesOfAPhoneNumbersBatch", locals())

    def retrieve_capabilities(self, agent_id: str, phone_number: str) -> dict[str, Any]:
        return self._op("ListRCSCapabilitiesOfAPhoneNumber", locals())

    def invite_test_number(self, id: str, phone_number: str) -> dict[str, Any]:
        return self._op("InviteATestNumberToRCS", locals())


class RcsAgents(Resource):
    def list(
        self, *, page_number: int | None = None, page_size: int | None = None, **extra: Any
    ) -> Page:
        return self._op("ListRCSAgents", locals())

    def retrieve(self, id: str) -> dict[str, Any]:
        return self._op("GetRCSAgentById", locals())

    def update(
        self,
        id: str,
        *,
        profile_id: str | None = None,
        webhook_url: str | None = None,
        webhook_failover_url: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return self._op("UpdateRCSAgentById", locals())
