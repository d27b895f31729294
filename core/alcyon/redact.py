"""Keep credentials out of logs, errors and reprs."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*)(?::(?P<password>[^@/\s]*))?@")


def redact_url(url: str) -> str:
    """``url`` with its password (and any userinfo that may be one) replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if not netloc and "@" in url:
        # Not host-based (a typo such as redis//u:pw@h): keep the scheme-like start and the host.
        return _SCHEME_LIKE.match(url).group() + "***@" + url.rpartition("@")[2]
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        # Without a ':' the userinfo may be a bare password (redis://secret@host): hide it all.
        netloc = f"{user}:***@{hostport}" if colon else f"***@{hostport}"
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(name.lower() == "password" for name, _ in pairs):
        query = urlencode([(n, "***" if n.lower() == "password" else v) for n, v in pairs], safe="*")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


_SCHEME_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*(?::/*|/+)|")


def redact_text(text: str, secrets: "list[str] | tuple[str, ...]" = ()) -> str:
    """Redact URL credentials and every given secret value from ``text``."""
    if "://" in text:  # every log value passes here: skip the regex when no URL can be in it
        text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}{':***' if m['password'] is not None else ''}@",
                             text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text

