"""Keep credentials out of logs, errors and reprs."""

from __future__ import annotations

import re
from typing import cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*)(?::(?P<password>[^@/\s]*))?@")


def redact_url(url: str) -> str:
    """``url`` with its password (and any userinfo that may be one), its credential query parameters
    and its token-like path segments replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if not netloc and "@" in url:
        # Not host-based (a typo such as redis//u:pw@h): keep the scheme-like start and the host.
        # _SCHEME_LIKE ends in an empty alternative: it always matches
        return cast(re.Match[str], _SCHEME_LIKE.match(url)).group() + "***@" + url.rpartition("@")[2]
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        # Without a ':' the userinfo may be a bare password (redis://secret@host): hide it all.
        netloc = f"{user}:***@{hostport}" if colon else f"***@{hostport}"
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(_secret_param(name, value) for name, value in pairs):
        query = urlencode([(n, "***" if _secret_param(n, v) else v) for n, v in pairs], safe="*")
    path = "/".join("***" if _TOKEN.fullmatch(segment) else segment for segment in parts.path.split("/"))
    return urlunsplit(parts._replace(netloc=netloc, path=path, query=query))


#: Query parameters that carry credentials (``?token=``, ``?access_token=``, ``?api_key=``, ``?sig=``...).
_SECRET_NAME = re.compile(r"pass|pwd|token|secret|key|sig|auth|cred|session", re.IGNORECASE)
#: A path segment or value that looks like a random token (a Slack-style secret webhook path, a
#: Discord token): 20+ URL-safe characters with a digit, or 24+ of them.
_TOKEN = re.compile(r"(?=[A-Za-z0-9_\-]*[0-9])[A-Za-z0-9_\-]{20,}|[A-Za-z0-9_\-]{24,}")


def _secret_param(name: str, value: str) -> bool:
    return bool(_SECRET_NAME.search(name) or _TOKEN.fullmatch(value))


_SCHEME_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*(?::/*|/+)|")


_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s\"'<>\\]+")


def redact_text(text: str, secrets: "list[str] | tuple[str, ...]" = ()) -> str:
    """Redact URL credentials (userinfo, secret query parameters, token-like path segments) and every
    given secret value from ``text``."""
    if "://" in text:  # every log value passes here: skip the regex when no URL can be in it
        text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}{':***' if m['password'] is not None else ''}@",
                             text)
        text = _URL.sub(lambda m: redact_url(m.group()), text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text

