"""A discarding SMTP sink in its own process for the send benchmark: counts messages, optionally keeps the
first N as .eml files. `python benchmarks/smtp_sink.py --port P [--eml-dir DIR] [--keep 100]`."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, eml_dir: Path | None, keep: int):
        self.count, self.eml_dir, self.keep = 0, eml_dir, keep
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        if self.eml_dir is not None and n <= self.keep:
            (self.eml_dir / f"{n:04d}.eml").write_bytes(envelope.original_content or envelope.content)
        return "250 2.0.0 Ok: queued"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--eml-dir", type=Path, default=None)
    parser.add_argument("--keep", type=int, default=100)
    args = parser.parse_args()
    if args.eml_dir:
        args.eml_dir.mkdir(parents=True, exist_ok=True)
    sink = Sink(args.eml_dir, args.keep)
    controller = Controller(sink, hostname="127.0.0.1", port=args.port, data_size_limit=30 * 2**20)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    controller.stop()
    print(f"received {sink.count}", flush=True)


if __name__ == "__main__":
    main()
