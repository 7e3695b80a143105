"""The client's file server, spoken to in one small vocabulary whatever the protocol: list the folder,
download a file (hashing it on the way), move it into processed/ or failed/.

FTP and FTPS use the standard library's ftplib; SFTP uses paramiko. Every failure becomes a RemoteError
with a sentence for the client ("the server closed the connection while sending orders.zip") — never a
traceback, never the library's name. What the server proves itself with is pinned: the SSH host key for
SFTP, the SHA-256 of the certificate for FTPS (when the client pinned one; else normal CA verification).

The host is the client's to choose, so it is resolved once and every address checked with the outbound
guard's rule (portal/netguard.py), and the connection goes to that checked address.
"""

from __future__ import annotations

import ftplib
import hashlib
import ipaddress
import posixpath
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import paramiko

from ..models.batch import PROTOCOL_FTP, PROTOCOL_FTPS, PROTOCOL_SFTP
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
    """What "test connection" found: the files waiting, and what the server presented."""

    files: list[RemoteFile]
    server_key: str
    key_fingerprint: str


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


def open_folder(endpoint: Endpoint, allow_localhost: bool) -> Folder:
    address = resolve_checked(endpoint.host, allow_localhost)
    if endpoint.protocol == PROTOCOL_SFTP:
        return SftpFolder(endpoint, address)
    if endpoint.protocol in (PROTOCOL_FTP, PROTOCOL_FTPS):
        return FtpFolder(endpoint, address)
    raise RemoteError(f"Unknown protocol {endpoint.protocol}.")


class Folder:
    """Context manager over one connection to the source's remote folder."""

    server_key = ""
    key_fingerprint = ""

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


def _stamped(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stem}-{stamp}.{ext}" if dot else f"{name}-{stamp}"


def _short_read(name: str, got: int, expected: int) -> RemoteError:
    return RemoteError(
        f"The connection ended while {name} was being downloaded ({got:,} of {expected:,} bytes); "
        "the file stays on the server for the next run."
    )


# --- FTP and FTPS ------------------------------------------------------------------------------------


class _PinnedFtpTls(ftplib.FTP_TLS):
    """FTP_TLS that verifies the certificate against the name the client typed (we connect to the checked
    address) or, when a digest is pinned, against that digest alone (self-signed servers)."""

    def __init__(self, hostname: str, pinned: str):
        context = ssl.create_default_context()
        if pinned:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        super().__init__(context=context, timeout=IO_TIMEOUT)
        self.hostname, self.pinned = hostname, pinned
        self.presented = ""

    def auth(self):
        self.host = self.hostname  # SNI and hostname check use the typed name
        resp = super().auth()
        der = self.sock.getpeercert(binary_form=True) or b""
        self.presented = "sha256:" + hashlib.sha256(der).hexdigest()
        if self.pinned and self.presented != self.pinned:
            raise RemoteError(
                "The server's TLS certificate is not the one pinned for this source "
                f"(it presented {self.presented}). If the server changed its certificate, pin the new one."
            )
        return resp


class FtpFolder(Folder):
    def __init__(self, endpoint: Endpoint, address: str):
        self.endpoint, self.address = endpoint, address
        self.ftp: ftplib.FTP | None = None

    def connect(self) -> None:
        e = self.endpoint
        try:
            if e.protocol == PROTOCOL_FTPS:
                ftp = _PinnedFtpTls(e.host, e.server_key)
                ftp.connect(self.address, e.port, timeout=CONNECT_TIMEOUT)
                ftp.auth()
                self.server_key = self.key_fingerprint = ftp.presented
                ftp.login(e.username, e.password, secure=False)
                ftp.prot_p()  # the files travel encrypted too, not only the password
            else:
                ftp = ftplib.FTP(timeout=IO_TIMEOUT)
                ftp.connect(self.address, e.port, timeout=CONNECT_TIMEOUT)
                ftp.login(e.username, e.password)
            self.ftp = ftp
            ftp.cwd(e.remote_dir or "/")
        except ftplib.error_perm as exc:
            self.close()
            raise RemoteError(_ftp_refusal(str(exc), e)) from exc
        except ssl.SSLError as exc:
            self.close()
            raise RemoteError(f"The TLS handshake with {e.host} failed ({exc.reason or exc}).") from exc
        except (OSError, EOFError, ftplib.Error) as exc:
            self.close()
            raise RemoteError(f"Cannot connect to {e.host}:{e.port} ({_why(exc)}).") from exc

    def close(self) -> None:
        if self.ftp is not None:
            try:
                self.ftp.quit()
            except (OSError, EOFError, ftplib.Error):
                self.ftp.close()
            self.ftp = None

    def list_files(self) -> list[RemoteFile]:
        assert self.ftp is not None
        try:
            try:
                entries = [
                    RemoteFile(name, int(facts.get("size", 0)))
                    for name, facts in self.ftp.mlsd(facts=["type", "size"])
                    if facts.get("type") == "file"
                ]
            except ftplib.error_perm:  # no MLSD: names, then SIZE for each (in binary mode: exact bytes)
                self.ftp.voidcmd("TYPE I")
                entries = [RemoteFile(n, self.ftp.size(n) or 0) for n in self.ftp.nlst() if wanted(n)]
        except (OSError, EOFError, ftplib.Error) as exc:
            raise RemoteError(f"Cannot list the folder {self.endpoint.remote_dir} ({_why(exc)}).") from exc
        return sorted((f for f in entries if wanted(f.name)), key=lambda f: f.name)

    def download(self, item: RemoteFile, target: Path) -> str:
        assert self.ftp is not None
        digest, got = hashlib.sha256(), 0
        with target.open("wb") as out:

            def write(chunk: bytes) -> None:
                nonlocal got
                got += len(chunk)
                digest.update(chunk)
                out.write(chunk)

            try:
                self.ftp.retrbinary(f"RETR {item.name}", write, blocksize=CHUNK)
            except (OSError, EOFError, ftplib.error_temp, ftplib.error_reply, ftplib.error_proto) as exc:
                raise _short_read(item.name, got, item.size) from exc
            except ftplib.error_perm as exc:
                raise RemoteError(f"The server refused to send {item.name} ({exc}).") from exc
        if got != item.size:
            raise _short_read(item.name, got, item.size)
        return digest.hexdigest()

    def move(self, name: str, subfolder: str) -> str:
        assert self.ftp is not None
        try:
            if subfolder not in {n for n, facts in self._dirs()}:
                self.ftp.mkd(subfolder)
            taken = set(self._names(subfolder))
            final = name if name not in taken else _stamped(name)
            self.ftp.rename(name, f"{subfolder}/{final}")
            return f"{subfolder}/{final}"
        except (OSError, EOFError, ftplib.Error) as exc:
            raise RemoteError(f"Cannot move {name} into {subfolder}/ ({_why(exc)}).") from exc

    def _dirs(self):
        try:
            return [(n, f) for n, f in self.ftp.mlsd(facts=["type"]) if f.get("type") == "dir"]
        except ftplib.error_perm:
            return [(n, {}) for n in self.ftp.nlst()]

    def _names(self, subfolder: str) -> list[str]:
        try:
            return [posixpath.basename(n) for n in self.ftp.nlst(subfolder)]
        except ftplib.error_perm:
            return []


def _ftp_refusal(text: str, e: Endpoint) -> str:
    if text.startswith("530"):
        return f"The server {e.host} refused the user name or password."
    if text.startswith("550"):
        return f"The folder {e.remote_dir} does not exist on the server, or this user may not open it."
    return f"The server {e.host} refused the request ({text})."


def _why(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "the server closed the connection"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "no answer in time"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return str(exc) or type(exc).__name__


# --- SFTP ---------------------------------------------------------------------------------------------


def key_line(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.get_base64()}"


def key_fingerprint(key: paramiko.PKey) -> str:
    import base64

    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


class SftpFolder(Folder):
    def __init__(self, endpoint: Endpoint, address: str):
        self.endpoint, self.address = endpoint, address
        self.transport: paramiko.Transport | None = None
        self.sftp: paramiko.SFTPClient | None = None
        self.probe_only = False  # "test connection" may run without a pinned key, to show it

    def connect(self) -> None:
        e = self.endpoint
        try:
            sock = socket.create_connection((self.address, e.port), timeout=CONNECT_TIMEOUT)
            self.transport = paramiko.Transport(sock)
            self.transport.start_client(timeout=CONNECT_TIMEOUT)
            key = self.transport.get_remote_server_key()
            self.server_key, self.key_fingerprint = key_line(key), key_fingerprint(key)
            if not e.server_key:
                if not self.probe_only:
                    raise RemoteError(
                        "No host key is pinned for this source: test the connection and confirm the "
                        f"server's key ({self.key_fingerprint}) first."
                    )
                return
            if self.server_key.split()[:2] != e.server_key.split()[:2]:
                raise RemoteError(
                    f"The server's host key ({self.key_fingerprint}) is not the one pinned for this source. "
                    "Nothing was sent to it. If the server's key really changed, pin the new one."
                )
            self._login()
        except RemoteError:
            self.close()
            raise
        except paramiko.AuthenticationException as exc:
            self.close()
            raise RemoteError(f"The server {e.host} refused the user name or password.") from exc
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self.close()
            raise RemoteError(f"Cannot connect to {e.host}:{e.port} ({_why(exc)}).") from exc

    def _login(self) -> None:
        e = self.endpoint
        self.transport.auth_password(e.username, e.password)
        self.sftp = paramiko.SFTPClient.from_transport(self.transport)
        self.sftp.get_channel().settimeout(IO_TIMEOUT)
        try:
            self.sftp.chdir(e.remote_dir or "/")
        except OSError as exc:
            raise RemoteError(
                f"The folder {e.remote_dir} does not exist on the server, or this user may not open it."
            ) from exc

    def close(self) -> None:
        if self.sftp is not None:
            self.sftp.close()
            self.sftp = None
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    def list_files(self) -> list[RemoteFile]:
        import stat

        try:
            entries = self.sftp.listdir_attr(".")
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise RemoteError(f"Cannot list the folder {self.endpoint.remote_dir} ({_why(exc)}).") from exc
        files = [
            RemoteFile(a.filename, a.st_size or 0)
            for a in entries
            if a.st_mode is not None and stat.S_ISREG(a.st_mode) and wanted(a.filename)
        ]
        return sorted(files, key=lambda f: f.name)

    def download(self, item: RemoteFile, target: Path) -> str:
        digest, got = hashlib.sha256(), 0
        try:
            with self.sftp.open(item.name, "rb") as src, target.open("wb") as out:
                src.prefetch(item.size)  # pipelined reads: a large file does not wait one round trip a chunk
                while chunk := src.read(CHUNK):
                    got += len(chunk)
                    digest.update(chunk)
                    out.write(chunk)
        except PermissionError as exc:
            raise RemoteError(f"The server refused to send {item.name} ({exc}).") from exc
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise _short_read(item.name, got, item.size) from exc
        if got != item.size:
            raise _short_read(item.name, got, item.size)
        return digest.hexdigest()

    def move(self, name: str, subfolder: str) -> str:
        try:
            if subfolder not in self.sftp.listdir("."):
                self.sftp.mkdir(subfolder)
            final = name if name not in self.sftp.listdir(subfolder) else _stamped(name)
            self.sftp.rename(name, f"{subfolder}/{final}")
            return f"{subfolder}/{final}"
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise RemoteError(f"Cannot move {name} into {subfolder}/ ({_why(exc)}).") from exc


def probe(endpoint: Endpoint, allow_localhost: bool) -> Probe:
    """Connect, log in, list: what "test connection" shows. For SFTP without a pinned key it stops after
    the key exchange and returns the key, which the client then confirms (nothing is sent before)."""
    folder = open_folder(endpoint, allow_localhost)
    if isinstance(folder, SftpFolder):
        folder.probe_only = True
    with folder:
        files = folder.list_files() if not isinstance(folder, SftpFolder) or folder.sftp else []
        return Probe(files, folder.server_key, folder.key_fingerprint)
