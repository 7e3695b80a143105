"""Real file servers for the batch-source tests, on 127.0.0.1 in threads: FTP and FTPS (pyftpdlib, with a
self-signed certificate made here) and SFTP (paramiko's server interfaces over a real socket).

Both can cut the connection in the middle of sending a file whose name contains "drop", like a server
that dies or a network that breaks mid-download.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import threading
from pathlib import Path

import paramiko
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.filesystems import AbstractedFS
from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
from pyftpdlib.servers import ThreadedFTPServer

USER, PASSWORD = "feeder", "s3cret-pass"
DROP_AFTER = 1000  # bytes sent before the connection is cut


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- FTP / FTPS ---------------------------------------------------------------------------------------


class _CutFile:
    """Sends the first DROP_AFTER bytes, then closes the whole session (control and data)."""

    def __init__(self, fh, handler):
        self.fh, self.handler, self.sent = fh, handler, 0
        self.name, self.closed = fh.name, False

    def read(self, n):
        if self.sent >= DROP_AFTER:
            self.handler.close()
            return b""
        data = self.fh.read(min(n, DROP_AFTER - self.sent))
        self.sent += len(data)
        return data

    def close(self):
        self.closed = True
        self.fh.close()


class _DroppingFS(AbstractedFS):
    def open(self, filename, mode):
        fh = super().open(filename, mode)
        if "drop" in os.path.basename(filename) and "r" in mode:
            return _CutFile(fh, self.cmd_channel)
        return fh


def self_signed_cert(directory: Path) -> tuple[Path, str]:
    """(PEM file with key and certificate, the certificate's "sha256:<hex>" digest as a source pins it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ftps.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    path = directory / "ftps.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    return path, "sha256:" + hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


class FtpServer:
    def __init__(self, root: Path, tls_cert: Path | None = None):
        self.root = root
        authorizer = DummyAuthorizer()
        authorizer.add_user(USER, PASSWORD, str(root), perm="elradfmw")
        base = TLS_FTPHandler if tls_cert else FTPHandler
        handler = type("Handler", (base,), {})
        handler.authorizer, handler.abstracted_fs, handler.use_sendfile = authorizer, _DroppingFS, False
        handler.passive_ports = None
        if tls_cert:
            handler.certfile, handler.tls_control_required, handler.tls_data_required = (
                str(tls_cert),
                True,
                True,
            )
        self.port = _free_port()
        self.server = ThreadedFTPServer(("127.0.0.1", self.port), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"timeout": 0.2}, daemon=True)

    def __enter__(self) -> FtpServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.close_all()
        self.thread.join(timeout=5)


# --- SFTP ---------------------------------------------------------------------------------------------


class _Server(paramiko.ServerInterface):
    def check_auth_password(self, username, password):
        ok = username == USER and password == PASSWORD
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def get_allowed_auths(self, username):
        return "password"

    def check_channel_request(self, kind, chanid):
        return (
            paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        )


class _Handle(paramiko.SFTPHandle):
    def __init__(self, path: Path, flags, transport):
        super().__init__(flags)
        self.path, self.transport_ = path, transport
        mode = "rb" if not flags & (os.O_WRONLY | os.O_RDWR) else "r+b"
        self.readfile = self.writefile = path.open(mode)

    def read(self, offset, length):
        if "drop" in self.path.name and offset + length > DROP_AFTER:
            self.transport_.close()  # the server dies mid-transfer
            return paramiko.SFTP_CONNECTION_LOST
        return super().read(offset, length)

    def stat(self):
        return paramiko.SFTPAttributes.from_stat(os.fstat(self.readfile.fileno()))


class _Sftp(paramiko.SFTPServerInterface):
    def __init__(self, server, *args, root: Path, **kwargs):
        super().__init__(server, *args, **kwargs)
        self.root = root
        self.transport = server_transport.get(id(server))

    def _real(self, path: str) -> Path:
        clean = os.path.normpath("/" + path).lstrip("/")
        return self.root / clean

    def canonicalize(self, path):
        return os.path.normpath("/" + path)

    def list_folder(self, path):
        real = self._real(path)
        out = []
        for entry in sorted(real.iterdir()):
            attr = paramiko.SFTPAttributes.from_stat(entry.stat())
            attr.filename = entry.name
            out.append(attr)
        return out

    def stat(self, path):
        real = self._real(path)
        if not real.exists():
            return paramiko.SFTP_NO_SUCH_FILE
        return paramiko.SFTPAttributes.from_stat(real.stat())

    lstat = stat

    def open(self, path, flags, attr):
        real = self._real(path)
        if not real.is_file():
            return paramiko.SFTP_NO_SUCH_FILE
        return _Handle(real, flags, self.transport)

    def rename(self, oldpath, newpath):
        target = self._real(newpath)
        if target.exists():
            return paramiko.SFTP_FAILURE
        self._real(oldpath).rename(target)
        return paramiko.SFTP_OK

    def mkdir(self, path, attr):
        self._real(path).mkdir()
        return paramiko.SFTP_OK


server_transport: dict[int, paramiko.Transport] = {}


class SftpServer:
    def __init__(self, root: Path):
        self.root = root
        self.host_key = paramiko.Ed25519Key.from_private_key_file(str(_ed25519(root.parent)))
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.transports: list[paramiko.Transport] = []

    @property
    def key_line(self) -> str:
        return f"{self.host_key.get_name()} {self.host_key.get_base64()}"

    def _interface(self, server, *args, **kwargs) -> _Sftp:
        return _Sftp(server, *args, root=self.root, **kwargs)

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            transport = paramiko.Transport(conn)
            transport.add_server_key(self.host_key)
            transport.set_subsystem_handler("sftp", paramiko.SFTPServer, sftp_si=self._interface)
            server = _Server()
            server_transport[id(server)] = transport
            self.transports.append(transport)
            try:
                transport.start_server(server=server)
            except (EOFError, OSError, paramiko.SSHException):
                continue  # the client hung up during the handshake (a key check that refused the server)

    def __enter__(self) -> SftpServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        for t in self.transports:
            t.close()
        self.sock.close()


def _ed25519(directory: Path) -> Path:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    path = directory / "host_ed25519"
    if not path.exists():
        key = ed25519.Ed25519PrivateKey.generate()
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
            )
        )
    return path
