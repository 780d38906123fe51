"""Validation of provider settings, shared by the config dataclasses.

Every check raises :class:`~ftpush.errors.InvalidInput` naming the field, with a
message a customer can act on ("key_id must be the 10-character Key ID shown in
the Apple developer account"), and never echoes a secret.

Example::

    >>> check_https_url("https://fcm.googleapis.com", "endpoint")
    'https://fcm.googleapis.com'
    >>> check_range(0, "priority", 1, 10)
    Traceback (most recent call last):
    ...
    ftpush.errors.InvalidInput: priority must be between 1 and 10, not 0
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from ftpush.errors import InvalidInput

_PRINTABLE = re.compile(r"[\x21-\x7e]+")


def check_text(value: object, field: str, pattern: str | None = None, hint: str = "") -> str:
    """A non-empty string without spaces or control characters (matching ``pattern``)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} is required{hint}", field=field)
    if not _PRINTABLE.fullmatch(value) or (pattern and not re.fullmatch(pattern, value)):
        raise InvalidInput(f"{field} {value[:80]!r} is not valid{hint}", field=field)
    return value


def check_range(value: object, field: str, low: float, high: float) -> float:
    """A number within ``[low, high]`` (booleans are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{field} must be a number", field=field)
    if not low <= value <= high:
        raise InvalidInput(
            f"{field} must be between {low:g} and {high:g}, not {value}", field=field
        )
    return value


def check_url(value: object, field: str, schemes: tuple[str, ...]) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{field} is required", field=field)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise InvalidInput(f"{field} {value!r} is not a valid URL: {exc}", field=field) from None
    if parts.scheme not in schemes or not parts.hostname or not _PRINTABLE.fullmatch(value):
        wanted = " or ".join(f"{s}://" for s in schemes)
        raise InvalidInput(f"{field} must be a {wanted} URL, not {value!r}", field=field)
    return value


def check_https_url(value: object, field: str) -> str:
    return check_url(value, field, ("https",))


def check_verify(value: object) -> bool | str:
    if isinstance(value, bool) or (isinstance(value, str) and value):
        return value
    raise InvalidInput("verify must be true, false or a CA file path", field="verify")


def load_ec_p256(pem: object, field: str = "private_key") -> ec.EllipticCurvePrivateKey:
    """The P-256 private key of an APNs ``.p8`` file (PEM text)."""
    key = _load_pem(pem, field, "an APNs .p8 key (-----BEGIN PRIVATE KEY-----)")
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InvalidInput(
            f"{field} is not an EC P-256 key; APNs .p8 keys are (is this the right file?)",
            field=field,
        )
    return key


def load_rsa(pem: object, field: str = "private_key") -> rsa.RSAPrivateKey:
    """The RSA private key of a Google service account (PEM text)."""
    key = _load_pem(pem, field, "the private_key of a service-account JSON")
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidInput(f"{field} is not an RSA key; service-account keys are", field=field)
    return key


def _load_pem(pem: object, field: str, what: str) -> object:
    if not isinstance(pem, str) or "-----BEGIN" not in pem:
        raise InvalidInput(f"{field} must be the PEM text of {what}", field=field)
    try:
        return load_pem_private_key(pem.strip().encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        # The library's message never contains key material; it says what is wrong.
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidInput(f"{field} is malformed ({detail[:120]})", field=field) from None
