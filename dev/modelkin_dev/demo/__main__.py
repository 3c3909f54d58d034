"""``python -m modelkin_dev.demo``: seed the demo registry, then serve it with ``modelkin
serve`` (the same command a registry operator runs). ``make demo`` calls this.

Every slow step says what it is doing before it starts, with the time so far. The port is
checked before seeding (minutes) rather than after: a port another program holds fails
early with a sentence; with the default port busy, the OS picks a free one and the demo
says which."""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
import time

from modelkin_dev.demo.seed import demo_signer, seed_demo

DEFAULT_PORT = 8000


def _bindable(host: str, port: int) -> bool:
    """Whether ``host:port`` can be bound now (the server binds it a moment later)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def choose_port(host: str, requested: int | None) -> tuple[int, str | None]:
    """The port to serve on and a note for the user, or ``SystemExit`` with a sentence.

    An explicitly requested port that is busy is an error (the user asked for it); the
    default port that is busy is replaced by a free one."""
    if requested is not None:
        if not _bindable(host, requested):
            raise SystemExit(
                f"modelkin demo: port {requested} on {host} is in use by another program; "
                "choose another with PORT=<port> (make demo PORT=8123)"
            )
        return requested, None
    if _bindable(host, DEFAULT_PORT):
        return DEFAULT_PORT, None
    port = _free_port(host)
    return port, f"port {DEFAULT_PORT} is in use, serving on free port {port} instead"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m modelkin_dev.demo", description=__doc__)
    ap.add_argument("--home", default=None, help="data directory (default: MODELKIN_HOME)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument(
        "--port", type=int, default=None, help=f"default {DEFAULT_PORT}, or a free port"
    )
    ap.add_argument("--no-serve", action="store_true", help="seed only")
    args = ap.parse_args(argv)
    port, note = (0, None) if args.no_serve else choose_port(args.host, args.port)
    started = time.perf_counter()

    def progress(message: str) -> None:
        print(f"  [{time.perf_counter() - started:5.1f} s] {message} ...", flush=True)

    summary = seed_demo(args.home, progress=progress)
    for line in summary.created:
        print(f"registered {line}", flush=True)
    if summary.existing:
        print(f"already present: {len(summary.existing)} records", flush=True)
    for claim, verdict in summary.verdicts.items():
        print(f"claim '{claim}': {verdict}", flush=True)
    for w in summary.warnings:
        print(f"warning: {w}", flush=True)
    print(f"data home: {summary.home} (seeded in {time.perf_counter() - started:.1f} s)")
    if args.no_serve:
        return 0
    if note:
        print(note, flush=True)
    print(f"==> open http://{args.host}:{port}/ (Ctrl-C stops the server)", flush=True)
    # this interpreter runs the CLI: `make demo` does not put .venv/bin on PATH
    cmd = [sys.executable, "-m", "modelkin", "serve", "--home", str(summary.home)]
    cmd += ["--host", args.host, "--port", str(port)]
    cmd += ["--ui-signer", str(demo_signer(summary.home))]
    os.execv(sys.executable, cmd)
    return 0  # pragma: no cover (execv does not return)


if __name__ == "__main__":
    sys.exit(main())
