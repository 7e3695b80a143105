"""Nightly batch over FTP: a client's FTP/FTPS/SFTP sources, fetched on a schedule, imported through the
import engine, and (FTP-ZIP packages) turned into campaigns through the campaign services.

remote.py   the file server in one vocabulary (list, download with checksum, move) and the address
            check; ftp.py (FTP/FTPS) and sftp.py (SFTP, host key pinned) speak it; connect.py picks one
package.py  the three shapes a file can have, and the checks they share; ftpzip.py the FTP-ZIP package;
            reader.py tells them apart
sources.py  sources: create, change, delete, pin, schedule, start a run
checks.py   what a file needs from the account; process.py one checked file → import engine → campaign
            services; runs.py a whole run; schedule.py the periodic fan-out; summary.py the admins'
            email; views.py/forms.py the client-area pages
"""

from flask import Blueprint

from ..guards import require_area

bp = Blueprint("batch", __name__, url_prefix="/app")
bp.before_request(require_area("client"))

from . import views  # noqa: E402,F401
