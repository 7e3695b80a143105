"""The one guard every outbound HTTP request goes through (checklist group F: webhooks, remote content).

- only http and https, only ports 80, 443 and 1024-65535 (never 22, 25, 6379's neighbours below 1024);
- the host is resolved once and EVERY address must be public: no loopback, private, link-local, CGNAT,
  multicast, reserved, unspecified, IPv4-mapped/-translated private ranges or cloud metadata endpoints;
- the connection is made to the address that was checked (no second lookup, so no DNS rebinding), with
  the original name kept for the Host header and TLS (SNI and certificate check);
- redirects are never followed, connect and total timeouts apply, and at most `max_bytes` of the answer
  are read.

`allow_localhost` (setting PORTAL_OUTBOUND_ALLOW_LOCALHOST, development and tests only) admits loopback
addresses — nothing else — so a receiver on 127.0.0.1 can be used on a laptop.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3

ALLOWED_SCHEMES = ("http", "https")
CONNECT_TIMEOUT = 3.0
TOTAL_TIMEOUT = 10.0
MAX_RESPONSE_BYTES = 64 * 1024
METADATA_NAMES = {"metadata.google.internal", "metadata", "instance-data", "metadata.azure.com"}
# Ranges that Python's `is_global` lets through but that are not a public internet service.
_EXTRA_BLOCKED = [ipaddress.ip_network(n) for n in ("100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15")]


class Blocked(ValueError):
    """The URL or the address it resolves to is not allowed; the message says why (shown to the client)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # the name as written (IDNA-encoded), for Host and TLS
    port: int
    path: str  # path + query
    address: str  # the checked IP the connection goes to


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    elapsed_ms: int


def _port_allowed(port: int) -> bool:
    return port in (80, 443) or 1024 <= port <= 65535


def address_blocked(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_localhost: bool = False) -> str:
    """Why this address may not be contacted ('' when it may)."""
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or (ip.sixtofour if ip.sixtofour else None)
        if mapped is not None:
            return address_blocked(mapped, allow_localhost)
        if ip in ipaddress.ip_network("64:ff9b::/96"):  # NAT64 of an IPv4 address
            return address_blocked(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), allow_localhost)
    if ip.is_loopback:
        return "" if allow_localhost else "a loopback address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_link_local:
        return "a link-local address (cloud metadata lives there)"
    if ip.is_multicast:
        return "a multicast address"
    if any(ip in net for net in _EXTRA_BLOCKED if net.version == ip.version):
        return "a shared (CGNAT) or special-purpose address"
    if ip.is_private or ip.is_reserved or not ip.is_global:
        return "a private or reserved address"
    return ""


def check_url(url: str, *, allow_localhost: bool = False, resolve: bool = True) -> Target:
    """Parse and check a URL; with `resolve`, also resolve it and check every address. Raises Blocked."""
    if not isinstance(url, str) or not url or len(url) > 2000 or any(ord(c) < 0x21 for c in url):
        raise Blocked("The URL is empty, too long or contains spaces or control characters.")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise Blocked("Only http:// and https:// URLs are allowed.")
    if parts.username or parts.password:
        raise Blocked("The URL may not contain a user name or password.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise Blocked("The URL has no host.")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise Blocked("The URL has an invalid port.") from exc
    if not _port_allowed(port):
        raise Blocked(f"Port {port} is not allowed (use 80, 443 or a port from 1024).")
    if host.lower() in METADATA_NAMES or host.lower().endswith(".internal"):
        raise Blocked("Cloud metadata and internal names are not allowed.")
    try:
        ascii_host = host.encode("idna").decode("ascii") if not _is_ip(host) else host
    except UnicodeError as exc:
        raise Blocked("The host name is not valid.") from exc
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    literal = _literal_ip(host)
    if literal is not None:
        reason = address_blocked(literal, allow_localhost)
        if reason:
            raise Blocked(f"The URL points to {reason}.")
        return Target(scheme, ascii_host, port, path, str(literal))
    if not resolve:
        return Target(scheme, ascii_host, port, path, "")
    return Target(scheme, ascii_host, port, path, _resolve_checked(ascii_host, port, allow_localhost))


def _is_ip(host: str) -> bool:
    return _literal_ip(host) is not None


def _literal_ip(host: str):
    """An IP written in any form a resolver would accept (2130706433, 0x7f000001, 0177.0.0.1, [::1])."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    try:  # inet_aton accepts the decimal, hex and octal shorthands browsers and libc accept
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def _resolve_checked(host: str, port: int, allow_localhost: bool) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Blocked(f"The host {host} could not be resolved.") from exc
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not addresses:
        raise Blocked(f"The host {host} could not be resolved.")
    for ip in addresses:  # all of them: a name with one public and one private record is refused
        reason = address_blocked(ip, allow_localhost)
        if reason:
            raise Blocked(f"The host {host} resolves to {reason}.")
    return str(addresses[0])


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allow_localhost: bool = False,
    connect_timeout: float = CONNECT_TIMEOUT,
    total_timeout: float = TOTAL_TIMEOUT,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> Answer:
    """POST `body` to the checked address of `url`. Raises Blocked, or OSError/urllib3 errors on failure."""
    target = check_url(url, allow_localhost=allow_localhost)
    started = time.monotonic()
    timeout = urllib3.Timeout(connect=connect_timeout, read=total_timeout)
    common = {"timeout": timeout, "retries": False, "maxsize": 1, "block": False}
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            **common,
        )
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, **common)
    host_header = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
    try:
        resp = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": host_header},
            redirect=False,
            preload_content=False,
            assert_same_host=False,
        )
        data = bytearray()
        for chunk in resp.stream(8192):
            data += chunk
            if len(data) >= max_bytes or time.monotonic() - started > total_timeout:
                break  # enough to show the client; the rest is not read
        resp.release_conn()
        return Answer(resp.status, bytes(data[:max_bytes]), int((time.monotonic() - started) * 1000))
    finally:
        pool.close()
