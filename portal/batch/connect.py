"""Which protocol speaks to a source's server, and the connection test the pages offer."""

from __future__ import annotations

from ..models.batch import PROTOCOL_FTP, PROTOCOL_FTPS, PROTOCOL_SFTP
from .ftp import FtpFolder
from .remote import Endpoint, Folder, Probe, RemoteError, resolve_checked
from .sftp import SftpFolder


def open_folder(endpoint: Endpoint, allow_localhost: bool) -> Folder:
    address = resolve_checked(endpoint.host, allow_localhost)
    if endpoint.protocol == PROTOCOL_SFTP:
        return SftpFolder(endpoint, address)
    if endpoint.protocol in (PROTOCOL_FTP, PROTOCOL_FTPS):
        return FtpFolder(endpoint, address)
    raise RemoteError(f"Unknown protocol {endpoint.protocol}.")


def probe(endpoint: Endpoint, allow_localhost: bool) -> Probe:
    """Connect, log in, list: what "test connection" shows. For SFTP without a pinned key it stops after
    the key exchange and returns the key, which the client then confirms (nothing is sent before)."""
    folder = open_folder(endpoint, allow_localhost)
    if isinstance(folder, SftpFolder):
        folder.probe_only = True
    with folder:
        files = folder.list_files() if not isinstance(folder, SftpFolder) or folder.sftp else []
        return Probe(files, folder.server_key, folder.key_fingerprint)
