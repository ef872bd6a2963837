"""Request bodies, validated with marshmallow. Schemas are built once, at import.

Unknown fields are refused; strings must be strings and integers integers (no "6", no
6.0, no true); phone numbers must already be E.164 and valid for their country (the
bare form: ``+1 312 555 0123`` is 422, as openapi.yaml's pattern promises clients;
operators' paths and CSV files take formatted numbers); codes are ASCII digits only.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from otp_service import phones

__all__ = [
    "CHECK_BY_PHONE",
    "CHECK_CODE",
    "CREATE_FACTOR",
    "CREATE_VERIFICATION",
    "LIST_FACTORS",
    "ValidationError",
]

CODE = re.compile(r"[0-9]{4,10}")
LOCALE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8}){0,3}\Z")
PRINTABLE = re.compile(r"[^\x00-\x1f\x7f]+")
IP_MAX = 64  # characters: the longest IPv6 text with a zone is far shorter
DEVICE_ID_MAX = 128


class PhoneNumber(fields.Field):
    """Bare E.164 (``phones.E164``), then ``phones.normalize``: the one normalisation,
    so ``+4407911123457`` is stored and compared as ``+447911123457``."""

    default_error_messages = {"invalid": "must be an E.164 phone number such as +14155550123"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str) or not phones.E164.fullmatch(value):
            raise self.make_error("invalid")
        try:
            return phones.normalize(value)
        except phones.InvalidPhone as exc:
            raise ValidationError(str(exc)) from None


class Code(fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str) or not CODE.fullmatch(value):
            raise ValidationError("must be a string of 4 to 10 ASCII digits")
        return value


class StrictInteger(fields.Integer):
    """An integer that is a JSON integer: not a boolean, a float or a string."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("must be an integer")
        return super()._deserialize(value, attr, data, **kwargs)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class IpAddress(fields.Field):
    """An IPv4 or IPv6 address in its text form. The errors never repeat the value."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str) or not 0 < len(value) <= IP_MAX:
            raise ValidationError("must be an IPv4 or IPv6 address")
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValidationError("must be an IPv4 or IPv6 address") from None
        return value


class SignalsSchema(_Strict):
    """What the customer's backend knows of the end user; only the guard's caps use it."""

    ip = IpAddress()
    device_id = fields.String(
        validate=validate.Length(min=1, max=DEVICE_ID_MAX),
        error_messages={"invalid": "must be a string"},
    )

    @validates("device_id")
    def _printable(self, value: str, **kwargs: Any) -> None:
        if not PRINTABLE.fullmatch(value):
            raise ValidationError("must not contain control characters")


class CreateVerificationSchema(_Strict):
    phone_number = PhoneNumber(required=True)
    channel = fields.String(load_default="sms", validate=validate.OneOf(["sms", "whatsapp"]))
    locale = fields.String(
        validate=validate.Regexp(LOCALE, error="must be a locale like en or pt-BR")
    )
    code_length = StrictInteger(validate=validate.Range(min=4, max=10))
    ttl_seconds = StrictInteger(validate=validate.Range(min=60, max=600))
    app_name = fields.String(validate=validate.Length(min=1, max=30))
    signals = fields.Nested(SignalsSchema)

    @validates("app_name")
    def _printable(self, value: str, **kwargs: Any) -> None:
        if not PRINTABLE.fullmatch(value):
            raise ValidationError("must not contain control characters")


class CheckCodeSchema(_Strict):
    code = Code(required=True)

    def load(self, data: Any, **kwargs: Any) -> Any:
        """Every check sends ``{"code": "<digits>"}``: that body is taken as it is, without
        marshmallow's machinery (a tenth of a check's cost); any other body gets all of it,
        and its error messages."""
        if not kwargs and type(data) is dict and len(data) == 1:
            code = data.get("code")
            if type(code) is str and CODE.fullmatch(code):
                return {"code": code}
        return super().load(data, **kwargs)


class CheckByPhoneSchema(_Strict):
    phone_number = PhoneNumber(required=True)
    code = Code(required=True)


class CreateFactorSchema(_Strict):
    type = fields.String(required=True, validate=validate.OneOf(["totp"]))
    subject = fields.String(required=True, validate=validate.Length(min=1, max=255))
    issuer = fields.String(validate=validate.Length(min=1, max=64))
    label = fields.String(validate=validate.Length(min=1, max=128))

    @validates("subject", "label")
    def _printable(self, value: str, **kwargs: Any) -> None:
        if not PRINTABLE.fullmatch(value):
            raise ValidationError("must not contain control characters")

    @validates("issuer")
    def _issuer(self, value: str, **kwargs: Any) -> None:
        if not PRINTABLE.fullmatch(value) or ":" in value:
            raise ValidationError("must not contain control characters or ':'")


class ListFactorsSchema(_Strict):
    subject = fields.String(required=True, validate=validate.Length(min=1, max=255))


CREATE_VERIFICATION = CreateVerificationSchema()
CHECK_CODE = CheckCodeSchema()
CHECK_BY_PHONE = CheckByPhoneSchema()
CREATE_FACTOR = CreateFactorSchema()
LIST_FACTORS = ListFactorsSchema()
