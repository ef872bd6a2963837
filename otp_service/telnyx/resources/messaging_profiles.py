"""``client.messaging_profiles``: profiles (webhooks, number pool, allowed destinations)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from .._pagination import Page
from ._base import Resource


class MessagingProfiles(Resource):
    @cached_property
    def actions(self) -> MessagingProfileActions:
        return MessagingProfileActions(self._client)

    @cached_property
    def autoresp_configs(self) -> AutorespConfigs:
        return AutorespConfigs(self._client)

    def list(
        self,
        *,
        name: str | None = None,
        filter: dict[str, Any] | None = None,
        page_number: int | None = None,
        page_size: int | None = None,
        **extra: Any,
    ) -> Page:
        """``name=`` → ``filter[name]``; ``filter={"name": {"contains": "otp"}}``."""
        return self._op("ListMessagingProfiles", locals(), filters=("name",))

    def create(
        self,
        *,
        name: str,
        whitelisted_destinations: list[str],
        enabled: bool | None = None,
        webhook_url: str | None = None,
        webhook_failover_url: str | None = None,
        webhook_api_version: str | None = None,
        number_pool_settings: dict[str, Any] | None = None,
        url_shortener_settings: dict[str, Any] | None = None,
        alpha_sender: str | None = None,
        daily_spend_limit: str | None = None,
        daily_spend_limit_enabled: bool | None = None,
        mms_fall_back_to_sms: bool | None = None,
        mms_transcoding: bool | None = None,
        mobile_only: bool | None = None,
        smart_encoding: bool | None = None,
        health_webhook_url: str | None = None,
        ai_assistant_id: str | None = None,
        resource_group_id: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return self._op("CreateMessagingProfile", locals())

    def retrieve(self, id: str) -> dict[str, Any]:
        return self._op("RetrieveMessagingProfile", locals())

    def update(
        self,
        id: str,
        *,
        name: str | None = None,
        whitelisted_destinations: list[str] | None = None,
        enabled: bool | None = None,
        webhook_url: str | None = None,
        webhook_failover_url: str | None = None,
        webhook_api_version: str | None = None,
        number_pool_settings: dict[str, Any] | None = None,
        url_shortener_settings: dict[str, Any] | None = None,
        alpha_sender: str | None = None,
        daily_spend_limit: str | None = None,
        daily_spend_limit_enabled: bool | None = None,
        mms_fall_back_to_sms: bool | None = None,
        mms_transcoding: bool | None = None,
        mobile_only: bool | None = None,
        smart_encoding: bool | None = None,
        ai_assistant_id: str | None = None,
        v1_secret: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return self._op("UpdateMessagingProfile", locals())

    def delete(self, id: str) -> dict[str, Any] | None:
        return self._op("DeleteMessagingProfile", locals())

    def list_phone_numbers(
        self, id: str, *, page_number: int | None = None, page_size: int | None = None, **extra: Any
    ) -> Page:
        return self._op("ListProfilePhoneNumbers", locals())

    def list_short_codes(
        self, id: str, *, page_number: int | None = None, page_size: int | None = None, **extra: Any
    ) -> Page:
        return self._op("ListProfileShortCodes", locals())

    def list_alphanumeric_sender_ids(
        self, id: str, *, page_number: int | None = None, page_size: int | None = None, **extra: Any
    ) -> Page:
        return self._op("ListProfileAlphanumericSenderIds", locals())

    def retrieve_metrics(
        self, id: str, *, time_frame: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        return self._op("GetDetailedProfileMetrics", locals())


class MessagingProfileActions(Resource):
    def regenerate_secret(self, id: str) -> dict[str, Any]:
        return self._op("RegenerateMessagingProfileSecret", locals())


class AutorespConfigs(Resource):
    """Keyword auto-responses (e.g. an answer to HELP) of one profile."""

    def list(
        self,
        profile_id: str,
        *,
        country_code: str | None = None,
        created_at: dict[str, str] | None = None,
        updated_at: dict[str, str] | None = None,
        page_number: int | None = None,
        page_size: int | None = None,
        **extra: Any,
    ) -> Page:
        return self._op("GetAutorespConfigs", locals())

    def create(
        self,
        profile_id: str,
        *,
        op: str,
        keywords: list[str],
        country_code: str,
        resp_text: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return self._op("CreateAutorespConfig", locals())

    def retrieve(self, profile_id: str, autoresp_cfg_id: str) -> dict[str, Any]:
        return self._op("GetAutorespConfig", locals())

    def update(
        self,
        profile_id: str,
        autoresp_cfg_id: str,
        *,
        op: str,
        keywords: list[str],
        country_code: str,
        resp_text: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return self._op("UpdateAutoRespConfig", locals())

    def delete(self, profile_id: str, autoresp_cfg_id: str) -> Any:
        return self._op("DeleteAutorespConfig", locals())
