"""SFTP through paramiko, with the server's host key pinned: nothing, not even the password, is sent to a
server that cannot prove it holds the pinned key. "Test connection" may stop after the key exchange to
show the key for the client to confirm."""

from __future__ import annotations

import base64
import hashlib
import socket
import stat
from pathlib import Path

import paramiko

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


def key_line(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.get_base64()}"


def key_fingerprint(key: paramiko.PKey) -> str:
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
            raise RemoteError(f"Cannot connect to {e.host}:{e.port} ({why(exc)}).") from exc

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

    @property
    def signed_in(self) -> bool:
        return self.sftp is not None

    def close(self) -> None:
        if self.sftp is not None:
            self.sftp.close()
            self.sftp = None
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    def list_files(self) -> list[RemoteFile]:
        try:
            entries = self.sftp.listdir_attr(".")
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise RemoteError(f"Cannot list the folder {self.endpoint.remote_dir} ({why(exc)}).") from exc
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
            raise short_read(item.name, got, item.size) from exc
        if got != item.size:
            raise short_read(item.name, got, item.size)
        return digest.hexdigest()

    def move(self, name: str, subfolder: str) -> str:
        try:
            if subfolder not in self.sftp.listdir("."):
                self.sftp.mkdir(subfolder)
            final = name if name not in self.sftp.listdir(subfolder) else stamped(name)
            self.sftp.rename(name, f"{subfolder}/{final}")
            return f"{subfolder}/{final}"
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise RemoteError(f"Cannot move {name} into {subfolder}/ ({why(exc)}).") from exc
