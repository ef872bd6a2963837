"""The seeded account: deterministic (fixed random seed), big enough that lists have pages.

The ids and numbers below are constants so that other code (the service's development
defaults, tests) can name them: three messaging profiles, their ``from`` numbers
(+1 312 555 0100 … 0144 long codes, three toll-free numbers), short codes and alphanumeric
sender IDs. Opt-outs block +1 646 555 0100 … 0135 for the primary and secondary profiles.
``seeded_account`` builds plain objects and ``SandboxState`` loads them, so this module
knows nothing of the live state.
"""

from __future__ import annotations

import random
import string
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .timestamps import iso

__all__ = [
    "ALPHANUMERIC_SENDER_IDS",
    "FROM_NUMBERS",
    "HOSTED_NUMBERS",
    "HOSTED_VERIFICATION_CODE",
    "MOBILE_NUMBERS",
    "OPTED_OUT_NUMBERS",
    "ORGANIZATION_ID",
    "PROFILE_IDS",
    "RCS_AGENT_IDS",
    "SHORT_CODES",
    "TOLL_FREE_NUMBERS",
    "UNASSIGNED_NUMBERS",
    "SeedAccount",
    "seeded_account",
    "number_object",
    "profile_object",
    "tollfree_request",
]

ORGANIZATION_ID = "89390810-1802-4693-be50-fed7c1be60ba"
PROFILE_IDS: dict[str, str] = {
    "primary": "efe9e056-edce-49d5-b9a0-8a6b33ba5999",
    "secondary": "1c0dfc8f-9f42-41c8-81b4-fa8267f2798a",
    "marketing": "eaa0e47b-40d6-4399-a19d-1df378bca65f",
}
_PROFILE_NAMES = {
    "primary": "OTP - US primary",
    "secondary": "OTP - US secondary",
    "marketing": "Marketing",
}


def _numbers(prefix: str, first: int, count: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{n:04d}" for n in range(first, first + count))


# Long codes: 20 primary, 15 secondary, 10 marketing, then 2 not assigned to any profile.
FROM_NUMBERS: dict[str, tuple[str, ...]] = {
    PROFILE_IDS["primary"]: _numbers("+1312555", 100, 20),
    PROFILE_IDS["secondary"]: _numbers("+1312555", 120, 15),
    PROFILE_IDS["marketing"]: _numbers("+1312555", 135, 10),
}
TOLL_FREE_NUMBERS: tuple[str, ...] = _numbers("+1833555", 100, 3)  # primary profile
UNASSIGNED_NUMBERS: tuple[str, ...] = _numbers("+1312555", 145, 2)
MOBILE_NUMBERS: tuple[str, ...] = _numbers("+1773555", 100, 28)
SHORT_CODES: dict[str, str | None] = {
    "22395": PROFILE_IDS["primary"],
    "37849": PROFILE_IDS["secondary"],
    "51234": PROFILE_IDS["marketing"],
    "60021": None,
}
ALPHANUMERIC_SENDER_IDS: dict[str, str] = {
    "OTPSvc": PROFILE_IDS["primary"],
    "AcmeVerify": PROFILE_IDS["secondary"],
    "AcmeDeals": PROFILE_IDS["marketing"],
}
OPTED_OUT_NUMBERS: tuple[str, ...] = _numbers("+1646555", 100, 36)
RCS_AGENT_IDS: tuple[str, ...] = ("acme_verify_agent", "acme_deals_agent")
HOSTED_NUMBERS: tuple[str, ...] = _numbers("+1617555", 100, 3)
HOSTED_VERIFICATION_CODE = "123456"  # the code every hosted-number verification "sends"

_BASE = datetime(2025, 1, 2, 9, 30, tzinfo=UTC)
_CARRIER_FEATURES = {
    "domestic_two_way": True,
    "international_inbound": True,
    "international_outbound": True,
}


def _ts(days: float) -> str:
    return iso(_BASE + timedelta(days=days))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _numeric_id(rng: random.Random) -> str:
    return str(rng.randrange(10**18, 10**19))


def _secret(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(24))


def profile_object(
    profile_id: str, name: str, created: str, secret: str, **fields: Any
) -> dict[str, Any]:
    """A MessagingProfile with every field Telnyx returns."""
    profile = {
        "record_type": "messaging_profile",
        "id": profile_id,
        "name": name,
        "enabled": True,
        "organization_id": ORGANIZATION_ID,
        "webhook_url": None,
        "webhook_failover_url": None,
        "webhook_api_version": "2",
        "whitelisted_destinations": ["US", "CA"],
        "number_pool_settings": None,
        "url_shortener_settings": None,
        "alpha_sender": None,
        "daily_spend_limit": "100.00",
        "daily_spend_limit_enabled": False,
        "mms_fall_back_to_sms": False,
        "mms_transcoding": False,
        "mobile_only": False,
        "smart_encoding": False,
        "redaction_enabled": False,
        "redaction_level": 2,
        "resource_group_id": None,
        "health_webhook_url": None,
        "ai_assistant_id": None,
        "v1_secret": secret,
        "created_at": created,
        "updated_at": created,
    }
    profile.update(fields)
    return profile


def number_object(
    ident: str,
    number: str,
    profile_id: str | None,
    created: str,
    *,
    kind: str = "longcode",
    rng: random.Random | None = None,
) -> dict[str, Any]:
    """A PhoneNumberWithMessagingSettings."""
    rng = rng or random.Random(number)
    return {
        "record_type": "messaging_settings",
        "id": ident,
        "phone_number": number,
        "messaging_profile_id": profile_id,
        "organization_id": ORGANIZATION_ID,
        "country_code": "US",
        "type": kind,
        "messaging_product": "A2P",
        "traffic_type": "A2P",
        "eligible_messaging_products": ["A2P"],
        "features": {"sms": dict(_CARRIER_FEATURES), "mms": dict(_CARRIER_FEATURES)},
        "health": {
            "message_count": rng.randrange(50, 5000),
            "inbound_outbound_ratio": round(rng.uniform(0.01, 0.2), 2),
            "success_ratio": round(rng.uniform(0.93, 0.995), 3),
            "spam_ratio": round(rng.uniform(0.0, 0.02), 3),
        },
        "tags": [],
        "created_at": created,
        "updated_at": created,
    }


@dataclass
class SeedAccount:
    """The seeded objects of each collection, in creation order (``SandboxState`` holds them)."""

    profiles: list[dict[str, Any]] = field(default_factory=list)
    phone_numbers: list[dict[str, Any]] = field(default_factory=list)
    mobile_numbers: list[dict[str, Any]] = field(default_factory=list)
    hosted_numbers: list[dict[str, Any]] = field(default_factory=list)
    short_codes: list[dict[str, Any]] = field(default_factory=list)
    alphanumeric_ids: list[dict[str, Any]] = field(default_factory=list)
    autoresp: defaultdict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # messaging profile id -> its auto-response configs
    optouts: list[dict[str, Any]] = field(default_factory=list)
    url_domains: list[dict[str, Any]] = field(default_factory=list)
    hosted_orders: list[dict[str, Any]] = field(default_factory=list)
    tf_requests: list[dict[str, Any]] = field(default_factory=list)
    tf_history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rcs_agents: list[dict[str, Any]] = field(default_factory=list)


def seeded_account(rng: random.Random) -> SeedAccount:
    """The seeded account's objects; the same ``rng`` state gives the same account."""
    seeded = SeedAccount()
    primary, secondary, marketing = (PROFILE_IDS[k] for k in ("primary", "secondary", "marketing"))

    for index, (key, profile_id) in enumerate(PROFILE_IDS.items()):
        extra: dict[str, Any] = {}
        if key == "primary":
            extra = {
                "alpha_sender": "OTPSvc",
                "number_pool_settings": {
                    "toll_free_weight": 1,
                    "long_code_weight": 10,
                    "skip_unhealthy": True,
                    "sticky_sender": True,
                    "geomatch": False,
                },
            }
        elif key == "marketing":
            extra = {
                "url_shortener_settings": {
                    "domain": "acme.link",
                    "prefix": "",
                    "replace_blacklist_only": True,
                    "send_webhooks": True,
                },
                "whitelisted_destinations": ["US", "CA", "GB", "DE", "FR"],
            }
        seeded.profiles.append(
            profile_object(profile_id, _PROFILE_NAMES[key], _ts(index), _secret(rng), **extra)
        )

    day = 1.0
    for profile_id, numbers in FROM_NUMBERS.items():
        for number in numbers:
            obj = number_object(_numeric_id(rng), number, profile_id, _ts(day), rng=rng)
            seeded.phone_numbers.append(obj)
            day += 0.5
    for number in TOLL_FREE_NUMBERS:
        obj = number_object(_numeric_id(rng), number, primary, _ts(day), kind="tollfree", rng=rng)
        seeded.phone_numbers.append(obj)
        day += 0.5
    for number in UNASSIGNED_NUMBERS:
        seeded.phone_numbers.append(
            number_object(_numeric_id(rng), number, None, _ts(day), rng=rng)
        )
        day += 0.5

    mobile_profiles = [primary, secondary, None]
    for index, number in enumerate(MOBILE_NUMBERS):
        created = _ts(10 + index)
        seeded.mobile_numbers.append(
            {
                "record_type": "messaging_settings",
                "id": _numeric_id(rng),
                "phone_number": number,
                "messaging_profile_id": mobile_profiles[index % 3],
                "organization_id": ORGANIZATION_ID,
                "country_code": "US",
                "type": "longcode",
                "messaging_product": "P2P",
                "traffic_type": "P2P",
                "features": {"sms": dict(_CARRIER_FEATURES)},
                "tags": [],
                "created_at": created,
                "updated_at": created,
            }
        )

    for index, (code, profile_id) in enumerate(SHORT_CODES.items()):
        created = _ts(3 + index)
        seeded.short_codes.append(
            {
                "record_type": "short_code",
                "id": _uuid(rng),
                "short_code": code,
                "country_code": "US",
                "messaging_profile_id": profile_id,
                "tags": [],
                "created_at": created,
                "updated_at": created,
            }
        )

    for sender, profile_id in ALPHANUMERIC_SENDER_IDS.items():
        seeded.alphanumeric_ids.append(
            {
                "record_type": "alphanumeric_sender_id",
                "id": _uuid(rng),
                "alphanumeric_sender_id": sender,
                "messaging_profile_id": profile_id,
                "organization_id": ORGANIZATION_ID,
                "us_long_code_fallback": FROM_NUMBERS[profile_id][0],
            }
        )

    keywords = ["STOP", "STOP", "UNSUBSCRIBE", "END", "QUIT", "CANCEL", "STOPALL"]
    for index, number in enumerate(OPTED_OUT_NUMBERS):
        profile_id = primary if index % 2 == 0 else secondary
        seeded.optouts.append(
            {
                "messaging_profile_id": profile_id,
                "from": FROM_NUMBERS[profile_id][index % 5],
                "to": number,
                "keyword": keywords[index % len(keywords)],
                "created_at": _ts(3 * index + rng.random()),
            }
        )

    for domain, use_case in (
        ("https://acme.link", "otp"),
        ("https://go.acme.example", "marketing"),
        ("https://verify.acme.example", "2fa"),
    ):
        seeded.url_domains.append(
            {
                "record_type": "messaging_url_domain",
                "id": _uuid(rng),
                "url_domain": domain,
                "use_case": use_case,
            }
        )

    hosted_done = {
        "record_type": "messaging_hosted_number_order",
        "id": _uuid(rng),
        "messaging_profile_id": secondary,
        "status": "successful",
        "phone_numbers": [
            {
                "record_type": "messaging_hosted_number",
                "id": _uuid(rng),
                "phone_number": number,
                "status": "successful",
            }
            for number in HOSTED_NUMBERS[:2]
        ],
    }
    hosted_pending = {
        "record_type": "messaging_hosted_number_order",
        "id": _uuid(rng),
        "messaging_profile_id": primary,
        "status": "pending",
        "phone_numbers": [
            {
                "record_type": "messaging_hosted_number",
                "id": _uuid(rng),
                "phone_number": HOSTED_NUMBERS[2],
                "status": "pending",
            }
        ],
    }
    seeded.hosted_orders.append(hosted_done)
    seeded.hosted_orders.append(hosted_pending)
    for entry in hosted_done["phone_numbers"]:
        obj = number_object(entry["id"], entry["phone_number"], secondary, _ts(40), rng=rng)
        seeded.hosted_numbers.append(obj)

    statuses = ["Verified", "In Progress", "Waiting For Customer"]
    for index, status in enumerate(statuses):
        request = tollfree_request(
            _uuid(rng), _tollfree_body(TOLL_FREE_NUMBERS[index]), created=_ts(20 + index)
        )
        request["verificationStatus"] = status
        seeded.tf_requests.append(request)
        history = [
            {"verificationStatus": "In Progress", "updatedAt": _ts(20 + index), "reason": None}
        ]
        if status != "In Progress":
            history.append(
                {"verificationStatus": status, "updatedAt": _ts(22 + index), "reason": None}
            )
        seeded.tf_history[request["id"]] = history

    for agent_id, name, profile_id in (
        (RCS_AGENT_IDS[0], "Acme Verify", primary),
        (RCS_AGENT_IDS[1], "Acme Deals", marketing),
    ):
        seeded.rcs_agents.append(
            {
                "agent_id": agent_id,
                "agent_name": name,
                "enabled": True,
                "profile_id": profile_id,
                "user_id": ORGANIZATION_ID,
                "webhook_url": None,
                "webhook_failover_url": None,
                "created_at": _ts(30),
                "updated_at": _ts(30),
            }
        )

    for op, keywords_, text in (
        ("stop", ["STOP", "UNSUBSCRIBE"], "You are unsubscribed. Reply START to resubscribe."),
        ("info", ["HELP", "INFO"], "Acme Verify: one-time codes. Reply STOP to opt out."),
    ):
        created = _ts(5)
        seeded.autoresp[primary].append(
            {
                "id": _uuid(rng),
                "op": op,
                "keywords": keywords_,
                "country_code": "US",
                "resp_text": text,
                "created_at": created,
                "updated_at": created,
            }
        )
    return seeded


def _tollfree_body(number: str) -> dict[str, Any]:
    return {
        "businessName": "Acme Verify Inc.",
        "corporateWebsite": "https://acme.example",
        "businessAddr1": "311 W Superior St",
        "businessCity": "Chicago",
        "businessState": "IL",
        "businessZip": "60654",
        "businessContactFirstName": "Ada",
        "businessContactLastName": "Lovelace",
        "businessContactEmail": "ops@acme.example",
        "businessContactPhone": "+13125550199",
        "messageVolume": "100,000",
        "phoneNumbers": [{"phoneNumber": number}],
        "useCase": "2FA",
        "useCaseSummary": "One-time passcodes for sign-in and account recovery.",
        "productionMessageContent": "Your Acme verification code is 123456.",
        "optInWorkflow": "Users enter their number on the sign-in page and confirm.",
        "optInWorkflowImageURLs": [{"url": "https://acme.example/opt-in.png"}],
        "additionalInformation": "Transactional traffic only.",
    }


def tollfree_request(ident: str, body: dict[str, Any], *, created: str) -> dict[str, Any]:
    """A stored toll-free verification request: the body plus its ids and status."""
    request = {
        "ageGatedContent": False,
        "entityType": "PRIVATE_PROFIT",
        **{k: v for k, v in body.items() if v is not None},
        "id": ident,
        "verificationRequestId": ident,
        "verificationStatus": "In Progress",
        "createdAt": created,
        "updatedAt": created,
    }
    return request
