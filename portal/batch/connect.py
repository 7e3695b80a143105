"""Which protocol speaks to a source's server, and the connection test the pages offer."""

from __future__ import annotations

from ..models.batch import PROTOCOL_FTP, PROTOCOL_FTPS, PROTOCOL_SFTP
from .ftp import FtpFolder
from .remote import Endpoint, Folder, Probe, RemoteError, resolve_checked


def open_folder(endpoint: Endpoint, allow_localhost: bool) -> Folder:
    address = resolve_checked(endpoint.host, allow_localhost)
    if endpoint.protocol == PROTOCOL_SFTP:
        # paramiko is imported when an SFTP source runs, not by every web and worker process at start-up
        # (about 0.3 s of imports each, for a protocol most deployments never use).
        from .sftp import SftpFolder

        return SftpFolder(endpoint, address)
    if endpoint.protocol in (PROTOCOL_FTP, PROTOCOL_FTPS):
        return FtpFolder(endpoint, address)
    raise RemoteError(f"Unknown protocol {endpoint.protocol}.")


def probe(endpoint: Endpoint, allow_localhost: bool) -> Probe:
    """Connect, log in, list: what "test connection" shows. Without a pinned key (SFTP), or with a
    certificate no authority signed (FTPS), it stops after the handshake and returns what the server
    presented, for the client to confirm; nothing, not even the password, is sent before that."""
    folder = open_folder(endpoint, allow_localhost)
    folder.probe_only = True
    with folder:
        files = folder.list_files() if folder.signed_in else []
        return Probe(files, folder.server_key, folder.key_fingerprint, folder.signed_in, folder.note)
