"""Real RQ worker processes for the crash proofs, and a SIGKILL that hits the process doing the work.

Since RQ 2 a worker forks a work-horse per job and the horse calls setpgrp(): it leads a process group of
its own, so killing the parent (or the parent's group) leaves the horse running. The horse goes on with the
job: it finishes it, or releases what it holds, and a test that meant to prove lease-expiry recovery proves
nothing. kill_worker() freezes the parent first (SIGSTOP: it can neither react to the horse's death nor
finish anything), kills the horse, checks that it no longer runs, then kills the parent and whatever else
it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def worker_env(app, **extra: str) -> dict:
    """The environment of a worker process on the test's database, Redis and storage."""
    s = app.config["PORTAL_SETTINGS"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "PYTEST"))}
    env.update(
        SECRET_KEY=s.secret_key,
        PORTAL_ENCRYPTION_KEYS=",".join(s.encryption_keys),
        DATABASE_URL=s.database_url,
        REDIS_URL=s.redis_url,
        PORTAL_BASE_DOMAIN=s.base_domain,
        PORTAL_INSTANCE_DIR=str(s.instance_dir),
        PORTAL_STORAGE_DIR=str(s.storage_dir),
        PORTAL_URL_SCHEME="https",
    )
    env.update(extra)
    return env


def start_worker(env: dict) -> subprocess.Popen:
    """`portal worker --burst` in a session of its own (so its process group is its own too)."""
    return subprocess.Popen(
        [sys.executable, "-m", "portal.cli", "worker", "--burst"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, process group) from /proc, or None once the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    return fields[0], int(fields[1]), int(fields[2])


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) and stat[1] == pid:
            found.append(int(entry.name))
    return found


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        kids = _children(todo.pop())
        out += kids
        todo += kids
    return out


def is_running(pid: int) -> bool:
    """False once the process has exited (a zombie waiting for its parent runs no code)."""
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def work_horse(parent: int, timeout: float = 60) -> int:
    """The parent's child that leads its own process group: the horse running the current job."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in _children(parent):
            stat = _stat(child)
            if stat is not None and stat[2] == child and is_running(child):
                return child
        time.sleep(0.01)
    raise AssertionError(f"worker {parent} has no work-horse")


def kill_worker(worker: subprocess.Popen) -> int:
    """SIGKILL the work-horse, then the worker and the rest of its processes; returns the horse's pid."""
    horse = work_horse(worker.pid)
    os.kill(worker.pid, signal.SIGSTOP)  # frozen: it cannot reap, report or release anything from here on
    others = [pid for pid in _descendants(worker.pid) if pid != horse]
    os.killpg(horse, signal.SIGKILL)  # the horse's group: anything the job itself started goes with it
    deadline = time.monotonic() + 10
    while is_running(horse) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not is_running(horse), f"the work-horse {horse} survived SIGKILL"
    for pid in others:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    assert not is_running(horse)
    return horse
