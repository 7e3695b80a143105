"""FTP and FTPS through the standard library's ftplib. FTPS verifies the certificate against the name
the client typed, or (self-signed servers) against a pinned SHA-256 digest; files travel encrypted too."""

from __future__ import annotations

import ftplib
import hashlib
import posixpath
import ssl
from pathlib import Path

from ..models.batch import PROTOCOL_FTPS
from .remote import (
    CHUNK,
    CONNECT_TIMEOUT,
    IO_TIMEOUT,
    Endpoint,
    Folder,
    RemoteError,
    RemoteFile,
    short_read,
    stamped,
    wanted,
    why,
)


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
        self.probe_only = False  # "test connection": an unverifiable certificate is shown, not an error
        self.note = ""

    def connect(self) -> None:
        e = self.endpoint
        try:
            if e.protocol == PROTOCOL_FTPS:
                self.ftp = ftp = _PinnedFtpTls(e.host, e.server_key)
                ftp.connect(self.address, e.port, timeout=CONNECT_TIMEOUT)
                try:
                    ftp.auth()
                except ssl.SSLCertVerificationError as exc:
                    if not self.probe_only or e.server_key:
                        raise
                    self._read_certificate(exc)
                    return
                self.server_key = self.key_fingerprint = ftp.presented
                ftp.login(e.username, e.password, secure=False)
                ftp.prot_p()  # the files travel encrypted too, not only the password
            else:
                self.ftp = ftp = ftplib.FTP(timeout=IO_TIMEOUT)
                ftp.connect(self.address, e.port, timeout=CONNECT_TIMEOUT)
                ftp.login(e.username, e.password)
            ftp.cwd(e.remote_dir or "/")
        except ftplib.error_perm as exc:
            self.close()
            raise RemoteError(_ftp_refusal(str(exc), e)) from exc
        except ssl.SSLError as exc:
            self.close()
            raise RemoteError(f"The TLS handshake with {e.host} failed ({exc.reason or exc}).") from exc
        except (OSError, EOFError, ftplib.Error) as exc:
            self.close()
            raise RemoteError(f"Cannot connect to {e.host}:{e.port} ({why(exc)}).") from exc

    def _read_certificate(self, failure: ssl.SSLCertVerificationError) -> None:
        """A certificate no known authority signed (self-signed): read its digest over a handshake that
        checks nothing, send nothing else (no password), and let the client decide whether to pin it."""
        self.close()
        e = self.endpoint
        reader = _PinnedFtpTls(e.host, "sha256:unknown")
        try:
            reader.connect(self.address, e.port, timeout=CONNECT_TIMEOUT)
            reader.auth()
        except RemoteError:
            pass  # the digest did not match "unknown", as intended: it is in reader.presented
        finally:
            reader.close()
        self.server_key = self.key_fingerprint = reader.presented
        self.note = f"The certificate cannot be verified ({failure.verify_message or failure.reason})."

    @property
    def signed_in(self) -> bool:
        return self.ftp is not None

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
            raise RemoteError(f"Cannot list the folder {self.endpoint.remote_dir} ({why(exc)}).") from exc
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
                raise short_read(item.name, got, item.size) from exc
            except ftplib.error_perm as exc:
                raise RemoteError(f"The server refused to send {item.name} ({exc}).") from exc
        if got != item.size:
            raise short_read(item.name, got, item.size)
        return digest.hexdigest()

    def move(self, name: str, subfolder: str) -> str:
        assert self.ftp is not None
        try:
            if subfolder not in {n for n, facts in self._dirs()}:
                self.ftp.mkd(subfolder)
            taken = set(self._names(subfolder))
            final = name if name not in taken else stamped(name)
            self.ftp.rename(name, f"{subfolder}/{final}")
            return f"{subfolder}/{final}"
        except (OSError, EOFError, ftplib.Error) as exc:
            raise RemoteError(f"Cannot move {name} into {subfolder}/ ({why(exc)}).") from exc

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
