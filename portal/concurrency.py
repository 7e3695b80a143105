"""A worker thread that waits on I/O next to a busy Python thread: hand the GIL over promptly.

CPython lets a thread that wants the GIL wait up to the switch interval (5 ms by default) before the
running thread lets go. A thread that mostly waits on a socket or on SQLite (both release the GIL) and
needs it back for a moment after each wait pays that delay every time, and becomes the bottleneck: the
import writer after each statement, the SMTP thread after each reply of the relay. During such work the
interval is lowered to 0.5 ms; the cost is a little more switching, for the duration of the job only.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

PROMPT_SWITCH_SECONDS = 0.0005

_lock = threading.Lock()
_users = 0
_previous = 0.005


@contextmanager
def prompt_gil_handover() -> Iterator[None]:
    """Lower the switch interval while the block runs; nested and concurrent uses restore it once, last."""
    global _users, _previous
    with _lock:
        if _users == 0:
            _previous = sys.getswitchinterval()
            sys.setswitchinterval(PROMPT_SWITCH_SECONDS)
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                sys.setswitchinterval(_previous)
