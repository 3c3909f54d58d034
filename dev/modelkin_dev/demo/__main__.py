"""``python -m modelkin_dev.demo``: seed the demo registry, then serve it with ``modelkin
serve`` (the same command a registry operator runs). ``make demo`` calls this."""

from __future__ import annotations

import argparse
import os
import shutil
import sys

from modelkin_dev.demo.seed import demo_signer, seed_demo


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m modelkin_dev.demo", description=__doc__)
    ap.add_argument("--home", default=None, help="data directory (default: MODELKIN_HOME)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--no-serve", action="store_true", help="seed only")
    args = ap.parse_args(argv)
    summary = seed_demo(args.home)
    for line in summary.created:
        print(f"registered {line}", flush=True)
    if summary.existing:
        print(f"already present: {len(summary.existing)} records", flush=True)
    for claim, verdict in summary.verdicts.items():
        print(f"claim '{claim}': {verdict}", flush=True)
    for w in summary.warnings:
        print(f"warning: {w}", flush=True)
    print(f"data home: {summary.home}", flush=True)
    if args.no_serve:
        return 0
    exe = shutil.which("modelkin") or sys.argv[0]
    cmd = [exe, "serve", "--home", str(summary.home), "--host", args.host]
    cmd += ["--port", str(args.port), "--ui-signer", str(demo_signer(summary.home))]
    os.execv(exe, cmd)
    return 0  # pragma: no cover (execv does not return)


if __name__ == "__main__":
    sys.exit(main())
