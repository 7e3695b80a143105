"""The `portal` command: the Flask CLI of this app plus the portal's own commands."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, NoAppException, with_appcontext

from .api.cli import api_keys_cli
from .backends.mailup.emulator.cli import mailup_emulator_command
from .backends.sms_gateway_emulator.cli import sms_gateway_emulator_command
from .devserver import DEV_ENV_NAME, instance_dir, load_env_file
from .sms.cli import sms_cli


def register(app: Flask) -> None:
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(api_keys_cli)
    app.cli.add_command(worker_command)
    app.cli.add_command(worker_health_command)
    app.cli.add_command(rotate_keys_command)
    from .cli_contacts import contacts_cli

    app.cli.add_command(contacts_cli)
    from .embedded.bounce_server import inbound_smtp_command

    app.cli.add_command(inbound_smtp_command)


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Create the demo admin, agency and client (development only; idempotent)."""
    from .seed import ADMIN, CLIENT_ADMIN, OWNER, seed_demo

    created = seed_demo()
    click.echo("Seeded: " + (", ".join(created) if created else "nothing new (already there)"))
    click.echo("DEV SEED ONLY — production never seeds. Logins:")
    for who, (email, password) in (
        ("back-office", ADMIN),
        ("agency owner", OWNER),
        ("client admin", CLIENT_ADMIN),
    ):
        click.echo(f"  {who:13} {email} / {password}")
    from .providers.demo import CLIENT_ADMIN as MAILUP_CLIENT_ADMIN
    from .providers.demo import emulator_url

    if emulator_url():  # the MailUp demo client exists only when the emulator ran (make dev)
        click.echo(
            f"  {'client admin':13} {MAILUP_CLIENT_ADMIN[0]} / {MAILUP_CLIENT_ADMIN[1]}  (MailUp demo)"
        )


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
@click.option("--queue", "queues", multiple=True, help="Queues to listen on (default: all, by priority).")
@with_appcontext
def worker_command(burst: bool, queues: tuple[str, ...]) -> None:
    """Start an RQ worker with the scheduler on the portal's queues."""
    from rq import Worker

    from .embedded.redis_server import ensure_redis
    from .jobs import QUEUES
    from .jobs.queueing import redis_connection, worker_connection
    from .jobs.runner import set_app

    ensure_redis(current_app.config["PORTAL_SETTINGS"])
    set_app(current_app._get_current_object())  # one app per worker process, reused by every job
    if not burst:
        from .jobs.ticker import start_ticker

        # periodic maintenance (sweeper) with ids derived from the time window
        start_ticker(redis_connection())
    worker = Worker(list(queues or QUEUES), connection=worker_connection())
    worker.work(burst=burst, with_scheduler=True)


@click.command("worker-health")
@click.option("--max-age", default=120, help="Seconds since a worker's last heartbeat.")
@with_appcontext
def worker_health_command(max_age: int) -> None:
    """Exit 0 when at least one worker sent a heartbeat recently, 1 otherwise."""
    from datetime import UTC, datetime

    from redis.exceptions import RedisError
    from rq import Worker

    from .jobs.queueing import redis_connection

    try:
        workers = Worker.all(connection=redis_connection())
    except RedisError as exc:
        click.echo(f"unhealthy: Redis unreachable ({exc.__class__.__name__})", err=True)
        sys.exit(1)
    now = datetime.now(UTC)
    healthy = [
        w
        for w in workers
        if w.last_heartbeat and (now - w.last_heartbeat.replace(tzinfo=UTC)).total_seconds() < max_age
    ]
    if not healthy:
        click.echo(
            f"unhealthy: no worker heartbeat in the last {max_age}s ({len(workers)} registered)", err=True
        )
        sys.exit(1)
    click.echo(f"healthy: {len(healthy)} worker(s): " + ", ".join(w.name for w in healthy))


@click.command("rotate-keys")
@with_appcontext
def rotate_keys_command() -> None:
    """Re-encrypt every stored secret (credentials, DKIM keys, two-factor secrets, ...) with the newest
    key of PORTAL_ENCRYPTION_KEYS; exits 1 naming the secrets no configured key can read."""
    from .keys.rotation import rotate_all

    report = rotate_all()
    for label, count in sorted(report.rotated.items()):
        click.echo(f"{label}: {count} re-encrypted")
    click.echo(f"re-encrypted {report.total} secret(s) with the newest key")
    if report.unreadable:
        click.echo(
            f"{len(report.unreadable)} secret(s) cannot be read with any configured key (enter them again, "
            "or put back the key they were written with): " + ", ".join(report.unreadable),
            err=True,
        )
        sys.exit(1)


@click.command("dev")
def dev_command() -> None:
    """Run the whole portal on its embedded defaults (SQLite, bundled Redis, SMTP capture)."""
    from .devserver import run_dev

    run_dev()


def _create_app():
    """A missing or bad setting is one line naming the variable to set, never a traceback."""
    from . import create_app
    from .settings import SettingsError

    try:
        return create_app()
    except SettingsError as exc:
        raise NoAppException(_settings_hint(exc)) from None


def _settings_hint(exc: Exception) -> str:
    return f"{exc} (set it in the environment, or run `make dev` once to create instance/{DEV_ENV_NAME})"


# Commands that need no portal app (and so no settings), and the help options.
APPLESS = ("dev", "mailup-emulator", "sms-gateway-emulator", "sms", "--help", "-h", "--version")


def _load_dev_env() -> None:
    """In a checkout where `make dev` has run, the portal command uses its development settings (variables
    already set in the environment win)."""
    dev_env = instance_dir() / DEV_ENV_NAME
    if dev_env.is_file():
        load_env_file(dev_env)


def main() -> None:
    _load_dev_env()
    args = sys.argv[1:]
    if args and args[0] not in APPLESS:
        from .settings import Settings, SettingsError

        try:
            Settings.from_env()
        except SettingsError as exc:
            click.echo(f"portal: {_settings_hint(exc)}", err=True)
            sys.exit(2)
    cli = FlaskGroup(
        create_app=_create_app,
        add_default_commands=True,
        load_dotenv=False,
        help="Portal command line (Flask CLI of the portal app).",
    )
    # `dev` prepares the environment (secrets, Redis, SMTP capture) before any app exists, so it lives on
    # the group itself: FlaskGroup resolves its own commands without loading the app.
    cli.add_command(dev_command)
    # The MailUp emulator is a stand-alone fake of an external service: it needs no portal app either.
    cli.add_command(mailup_emulator_command)
    cli.add_command(sms_gateway_emulator_command)  # like the MailUp emulator: no portal app needed
    cli.add_command(sms_cli)  # counting needs no app either
    cli.main(prog_name="portal")


if __name__ == "__main__":
    main()
