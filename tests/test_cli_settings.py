"""The `portal` command never answers a missing setting with a traceback: one line names the variable, and
in a checkout where `make dev` has run it reads instance/dev.env."""

from __future__ import annotations

import os
import subprocess
import sys

from cryptography.fernet import Fernet


def _portal(*args: str, instance, extra: dict | None = None) -> subprocess.CompletedProcess:
    keep = ("PATH", "HOME", "LANG")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(PORTAL_INSTANCE_DIR=str(instance), **(extra or {}))
    return subprocess.run(
        [sys.executable, "-m", "portal.cli", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_a_missing_setting_is_one_line_naming_it(tmp_path):
    result = _portal("seed-demo", instance=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "SECRET_KEY" in result.stderr


def test_help_works_without_settings(tmp_path):
    result = _portal("--help", instance=tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stdout + result.stderr
    assert "dev" in result.stdout and "mailup-emulator" in result.stdout


def test_the_dev_env_of_the_checkout_is_read(tmp_path):
    (tmp_path / "dev.env").write_text(
        f"SECRET_KEY=dev-secret-key-0123456789\nPORTAL_ENCRYPTION_KEYS={Fernet.generate_key().decode()}\n"
        f"DATABASE_URL=sqlite:///{tmp_path / 'x.db'}\n"
    )
    result = _portal("routes", instance=tmp_path, extra={"REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.returncode == 0, result.stderr
    assert "/login" in result.stdout
