"""Intake's e-mail address type answers exactly as pydantic's ``EmailStr`` (same normalised
address, same error), although it reuses each domain's verdict."""

from __future__ import annotations

import pytest
from intake_service.complaints.schemas import EmailAddress
from pydantic import EmailStr, TypeAdapter, ValidationError

ADDRESSES = [
    "ana@example.com",
    "Ana.Pop@Example.COM",
    "user+tag@mail.example.co.uk",
    "o'neil/x=y?z^{a}|b~c@example.org",
    "INFO@example.com",
    "Postmaster@example.com",
    "a..b@example.com",
    ".a@example.com",
    "a.@example.com",
    "a@localhost",
    "a@example",
    "a@x.test",
    "a@host.local",
    "a@example.123",
    "a@-example.com",
    "a@example-.com",
    "a@exa_mple.com",
    "a@example..com",
    "a@example.com.",
    "a@" + "x" * 64 + ".com",
    "a@" + "x" * 63 + ".com",
    "a@xn--80ak6aa92e.com",
    "a@xn--zz.com",
    "a@пример.рф",
    "ñandú@example.com",
    '"quoted"@example.com',
    "Ana Pop <ana@example.com>",
    "a" * 64 + "@example.com",
    "a" * 65 + "@example.com",
    "a" * 60 + "@" + ".".join(["d" * 60] * 3) + ".com",
    "a" * 10 + "@" + ".".join(["d" * 60] * 4) + ".com",
    "a@b@example.com",
    "@example.com",
    "a@",
    "",
    "a@[127.0.0.1]",
    "a b@example.com",
]

EMAIL_STR = TypeAdapter(EmailStr)
EMAIL_ADDRESS = TypeAdapter(EmailAddress)


def outcome(adapter: TypeAdapter, value: str) -> tuple[str, object]:
    try:
        return "valid", adapter.validate_python(value)
    except ValidationError as error:
        return "invalid", [(e["type"], e["msg"], e.get("ctx")) for e in error.errors()]


@pytest.mark.parametrize("address", ADDRESSES)
def test_an_address_is_judged_as_email_str_judges_it(address):
    assert outcome(EMAIL_ADDRESS, address) == outcome(EMAIL_STR, address)
    # The second time the domain's verdict comes from the cache.
    assert outcome(EMAIL_ADDRESS, address) == outcome(EMAIL_STR, address)
