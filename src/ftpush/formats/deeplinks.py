"""Deeplinks and the notification payload of push lines (SPEC §3).

A Deeplink is valid when it starts with a scheme, ``:`` and one more character
(``//`` and a host character for http/https), and holds only printable
characters other than the space (``str.isprintable``: no controls, no Unicode
separators or format characters). The payload is measured as compact UTF-8 JSON
(decision 0101).

Example::

    >>> is_deeplink("https://example.com/a?b=1"), is_deeplink("myapp://home")
    (True, True)
    >>> is_deeplink("https://"), is_deeplink("example.com/a"), is_deeplink("a: b")
    (False, False, False)
    >>> payload_bytes("Hi", None)
    29
"""

from __future__ import annotations

import json
import re
from itertools import repeat

DEFAULT_MAX_PAYLOAD_BYTES = 4096
# {"text":"","deeplink":null} is 27 bytes; one character costs at most 6 bytes (a
# \u00XX escape), so a line shorter than (limit - 27) / 6 characters always fits.
PAYLOAD_OVERHEAD = 27
MAX_CHAR_BYTES = 6
LINK_HEAD = re.compile(r"(?i:https?)://[^/?#]|(?!(?i:https?):)[A-Za-z][A-Za-z0-9+.\-]*:.")
MAX_LINK_PREFIXES = 256
_VISIBLE_ASCII = bytes(range(0x21, 0x7F))


def payload_bytes(text: str, deeplink: str | None) -> int:
    """Size of the measured notification payload: ``{"text","deeplink"}`` as UTF-8 JSON."""
    payload = {"text": text, "deeplink": deeplink or None}
    return len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())


def is_deeplink(link: str) -> bool:
    """Whether ``link`` is an acceptable Deeplink: an absolute URI with a scheme."""
    return LINK_HEAD.match(link) is not None and link.isprintable() and " " not in link


def known_good(links: list[str], prefixes: tuple[str, ...]) -> bool:
    """True when every link starts with a head in ``prefixes`` (heads of links already
    found valid) and all are printable without spaces: then all are valid.

    One C-speed pass for many links instead of a regex each; ``False`` only means
    "check them one by one".
    """
    joined = "".join(links)
    if joined.isascii():
        # Deleting every printable ASCII byte but the space leaves nothing behind
        # exactly when the text is printable and has no space.
        plain = not joined.encode().translate(None, _VISIBLE_ASCII)
    else:
        plain = " " not in joined and joined.isprintable()
    return plain and all(map(str.startswith, links, repeat(prefixes)))
