"""The client's file server, spoken to in one small vocabulary whatever the protocol: list the folder,
download a file (hashing it on the way), move it into processed/ or failed/. This module holds the
vocabulary and the address check; ftp.py (ftplib, FTP and FTPS) and sftp.py (paramiko) speak it, and
connect.py picks one.

Every failure becomes a RemoteError with a sentence for the client ("the connection ended while
orders.zip was being downloaded") — never a traceback, never the library's name. The host is the
client's to choose, so it is resolved once and every address checked with the outbound guard's rule
(portal/netguard.py), and the connection goes to that checked address.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..netguard import METADATA_NAMES, address_blocked

CONNECT_TIMEOUT = 20
IO_TIMEOUT = 60
CHUNK = 256 * 1024
PROCESSED, FAILED = "processed", "failed"
# Names a sender is still writing (or that are not files for us): left alone.
_IN_PROGRESS = (".part", ".tmp", ".filepart", ".crdownload", ".partial")


class RemoteError(Exception):
    """The server could not be used; the message says what happened, for the client."""


@dataclass(frozen=True)
class Endpoint:
    protocol: str
    host: str
    port: int
    username: str
    password: str
    remote_dir: str
    server_key: str = ""  # SFTP: "<type> <base64>"; FTPS: "sha256:<hex>"


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int


@dataclass(frozen=True)
class Probe:
    """What "test connection" found: the files waiting (once signed in), and what the server presented."""

    files: list[RemoteFile]
    server_key: str
    key_fingerprint: str
    signed_in: bool = True
    note: str = ""


def wanted(name: str) -> bool:
    low = name.lower()
    return (
        not name.startswith(".") and not low.endswith(_IN_PROGRESS) and low.endswith((".csv", ".txt", ".zip"))
    )


def resolve_checked(host: str, allow_localhost: bool) -> str:
    """One lookup, every address checked by the outbound guard's rule (portal/netguard.py: no private,
    link-local, metadata or reserved address; loopback only where the deployment allows it), and the
    address connected to is the one checked (a rebinding name gains nothing)."""
    if host.lower() in METADATA_NAMES or host.lower().endswith(".internal"):
        raise RemoteError(f"{host} is an internal name; only servers on the internet can be used.")
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise RemoteError(f"The server name {host} cannot be found.") from exc
    addresses = [info[4][0].split("%")[0] for info in infos]
    for address in addresses:
        reason = address_blocked(ipaddress.ip_address(address), allow_localhost)
        if reason:
            raise RemoteError(f"{host} is {reason}; only servers on the internet can be used.")
    return addresses[0]


class Folder:
    """Context manager over one connection to the source's remote folder."""

    server_key = ""
    key_fingerprint = ""
    probe_only = False
    note = ""

    @property
    def signed_in(self) -> bool:
        raise NotImplementedError

    def __enter__(self) -> Folder:
        self.connect()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def connect(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def list_files(self) -> list[RemoteFile]:
        raise NotImplementedError

    def download(self, item: RemoteFile, target: Path) -> str:
        """Write the file to `target`; return its SHA-256. A short read is an error, not a file."""
        raise NotImplementedError

    def move(self, name: str, subfolder: str) -> str:
        """Move into processed/ or failed/ (created when missing); a name already there gets a suffix."""
        raise NotImplementedError


def stamped(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stem}-{stamp}.{ext}" if dot else f"{name}-{stamp}"


def short_read(name: str, got: int, expected: int) -> RemoteError:
    return RemoteError(
        f"The connection ended while {name} was being downloaded ({got:,} of {expected:,} bytes); "
        "the file stays on the server for the next run."
    )


def why(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "the server closed the connection"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "no answer in time"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return str(exc) or type(exc).__name__
