"""``client.messages``: send (SMS, MMS, WhatsApp, RCS), schedule, cancel, retrieve.

Every send is a POST under ``/messages``: the client never retries one after Telnyx may
have received it (see ``_retry.py``).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from ._base import Resource


class Messages(Resource):
    @cached_property
    def rcs(self) -> MessagesRcs:
        return MessagesRcs(self._client)

    def send(
        self,
        *,
        to: str,
        from_: str | None = None,
        messaging_profile_id: str | None = None,
        text: str | None = None,
        media_urls: list[str] | None = None,
        subject: str | None = None,
        type: str | None = None,
        send_at: str | None = None,
        auto_detect: bool | None = None,
        encoding: str | None = None,
        use_profile_webhooks: bool | None = None,
        webhook_url: str | None = None,
        webhook_failover_url: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Send from a number (``from_``) or let a profile's number pool pick one."""
        return self._op("SendMessage", locals())

    def send_long_code(
        self,
        *,
        from_: str,
        to: str,
        text: str | None = None,
        media_urls: list[str] | None = None,
        subject: str | None = None,
        type: str | None = None,
        auto_detect: bool | None = None,
        encoding: str | None = None,
        use_profile_webhooks: bool | None = None,
        webhook_url: str | None = None,
        webhook_failover_url: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return self._op("CreateLongCodeMessage", locals())

    def send_short_code(
        self,
        *,
        from_: str,
        to: str,
        text: str | None = None,
        media_urls: list[str] | None = None,
        subject: str | None = None,
        type: str | None = None,
        auto_detect: bool | None = None,
        encoding: str | None = None,
        use_profile_webhooks: bool | None = None,
        webhook_url: str | None = None,
        webhook_failover_url: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return self._op("CreateShortCodeMessage", locals())

    def send_number_pool(
        self,
        *,
        messaging_profile_id: str,
        to: str,
        text: str | None = None,
        media_urls: list[str] | None = None,
        subject: str | None = None,
        type: str | None = None,
        auto_detect: bool | None = None,
        encoding: str | None = None,
        use_profile_webhooks: bool | None = None,
        webhook_url: str | None = None,
        webhook_failover_url: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return self._op("CreateNumberPoolMessage", locals())

    def send_with_alphanumeric_sender(
        self,
        *,
        from_: str,
        to: str,
        text: str,
        messaging_profile_id: str,
        use_profile_webhooks: bool | None = None,
        webhook_url: str | None = None,
        webhook_failover_url: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return self._op("SendAlphanumericSenderIdMessage", locals())

    def send_group_mms(
        self,
        *,
        from_: str,
        to: list[str],
        text: str | None = None,
        media_urls: list[str] | None = None,
        subject: str | None = None,
        use_profile_webhooks: bool | None = None,
        webhook_url: str | None = None,
        webhook_failover_url: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return self._op("CreateGroupMmsMessage", locals())

    def whatsapp(
        self,
        *,
        from_: str,
        to: str,
        whatsapp_message: dict[str, Any],
        messaging_profile_id: str | None = None,
        type: str | None = None,
        webhook_url: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return self._op("SendWhatsappMessage", locals())

    def schedule(
        self,
        *,
        to: str,
        send_at: str | None = None,
        from_: str | None = None,
        messaging_profile_id: str | None = None,
        text: str | None = None,
        media_urls: list[str] | None = None,
        subject: str | None = None,
        type: str | None = None,
        auto_detect: bool | None = None,
        use_profile_webhooks: bool | None = None,
        webhook_url: str | None = None,
        webhook_failover_url: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Send at ``send_at`` (ISO 8601 string or datetime)."""
        return self._op("ScheduleMessage", locals())

    def cancel_scheduled(self, id: str) -> dict[str, Any]:
        return self._op("CancelMessage", locals())

    def retrieve(self, id: str) -> dict[str, Any]:
        return self._op("GetMessage", locals())

    def retrieve_group_messages(self, message_id: str) -> list[dict[str, Any]]:
        return self._op("GetGroupMmsMessages", locals())


class MessagesRcs(Resource):
    """``client.messages.rcs``."""

    def send(
        self,
        *,
        agent_id: str,
        to: str,
        messaging_profile_id: str,
        agent_message: dict[str, Any],
        sms_fallback: dict[str, Any] | None = None,
        mms_fallback: dict[str, Any] | None = None,
        type: str | None = None,
        webhook_url: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return self._op("SendRCSMessage", locals())

    def generate_deeplink(
        self,
        agent_id: str,
        *,
        phone_number: str | None = None,
        body: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return self._op("GenerateRCSDeeplink", locals())
