"""Who may reach ``concviz serve``: the addresses it listens on, the pages it answers.

Every dashboard the server starts runs code on this machine, so two doors stay shut:

* **Listening beyond this machine** must be asked for. ``--host`` is resolved the
  way the server will bind it (``""``, ``0``, ``::0``, ``0.0.0.00`` all mean every
  interface); anything that is not loopback is public.
* **Other web pages.** A browser lets any page open a websocket to any address,
  127.0.0.1 included, and says which page asked in ``Origin``. Only the server's
  own page (its host:port, the loopback names for a loopback server, and
  ``--public-url``) may start a dashboard. A request without ``Origin`` is not
  from a browser page (browsers always send it on a websocket): it is a program
  on this machine, or one that could reach the port anyway.

Standard library only: ``concviz serve`` checks its options before importing aiohttp.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

#: The names a browser on this machine may use for a loopback server.
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
DEFAULT_PORTS = {"http": 80, "https": 443}


class AccessError(ValueError):
    """A ``--host`` or ``--public-url`` that cannot be used (the message says why)."""


def listen_addresses(host: str, port: int) -> list[str]:
    """The addresses ``host`` binds, as the server will bind them (``""``: every interface)."""
    try:
        found = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except (OSError, UnicodeError) as exc:
        raise AccessError(f"cannot resolve --host {host!r}: {exc}") from None
    return sorted({str(info[4][0]) for info in found})


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def public_addresses(host: str, port: int) -> list[str]:
    """The addresses of ``host`` other machines can reach (none: this machine only)."""
    return [a for a in listen_addresses(host, port) if not is_loopback(a)]


def origin_of(url: str) -> str | None:
    """``scheme://host:port``, lower case, the port always written; None if not http(s)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return f"{scheme}://{host}:{port or DEFAULT_PORTS[scheme]}"


def check_public_url(url: str) -> str:
    """The origin of a ``--public-url``, or AccessError when it is not an http(s) URL."""
    origin = origin_of(url)
    if origin is None:
        raise AccessError(f"--public-url must be an http:// or https:// URL, got {url!r}")
    return origin


def allowed_origins(host: str, port: int, public_url: str | None) -> frozenset[str]:
    """The pages that may open a dashboard: this server's own, under the names it answers."""
    names = {host.strip("[]").lower()} if host else set()
    addresses = listen_addresses(host, port)
    if any(is_loopback(a) or ipaddress.ip_address(a).is_unspecified for a in addresses):
        names.update(name.strip("[]") for name in LOOPBACK_NAMES)
    origins = set()
    for name in names:
        shown = f"[{name}]" if ":" in name else name
        origin = origin_of(f"http://{shown}:{port}")
        if origin is not None:
            origins.add(origin)
    if public_url:
        origins.add(check_public_url(public_url))
    return frozenset(origins)


def origin_allowed(origin: str | None, allowed: frozenset[str]) -> bool:
    """Whether a websocket request's ``Origin`` header is one of ``allowed`` (absent: yes)."""
    if origin is None:
        return True
    return origin_of(origin) in allowed
