"""kill -9 in the middle of batched appends, many times: nothing acknowledged is lost, the
log stays consistent with every checkpoint it ever returned, and verify passes.

On PostgreSQL the killed client's open transaction is rolled back by the server and its
advisory sequencer lock released with its session; the next process must adopt the rest."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from modelkin.ledger import Ledger, note
from modelkin.ledger.checkpoint import open_checkpoint

CHILD = r"""
import sys, random
from pathlib import Path
from modelkin.ledger import Ledger
loop, d, url = sys.argv[1], Path(sys.argv[2]), (sys.argv[3:] or [None])[0]
log = Ledger.open(d, origin="crash.test/log", db_url=url)
print("READY", flush=True)
rng = random.Random(int(loop))
n = 0
while True:
    batch = [f"{loop}-{n + i}".encode() for i in range(rng.randint(1, 40))]
    n += len(batch)
    res = log.append_many(batch)
    cp = res[-1].checkpoint.replace("\n", "|")
    print("ACK " + " ".join(f"{e.decode()}={r.index}" for e, r in zip(batch, res)) + " END", flush=True)
    print("CP " + cp, flush=True)
"""


def test_kill_dash_nine_loops(tmp_path: Path, db_url: str | None) -> None:
    d = tmp_path / "log"
    rng = random.Random(1234)
    acked: dict[bytes, int] = {}
    checkpoints: list[str] = []
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    deadline = time.monotonic() + (30 if db_url is None else 10)
    loops = 0
    url_arg = [] if db_url is None else [db_url]
    while loops < (15 if db_url is None else 5) and time.monotonic() < deadline:
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(loops), str(d), *url_arg],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "READY"
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        for line in out.splitlines():
            if line.startswith("ACK ") and line.endswith(" END"):  # complete lines only
                for pair in line[4:-4].split():
                    e, _, i = pair.partition("=")
                    acked[e.encode()] = int(i)
            elif line.startswith("CP ") and line.endswith("|"):
                checkpoints.append(line[3:].replace("|", "\n"))
        loops += 1
        with Ledger.open(d, db_url=db_url) as log:  # restart: everything acked is there
            for e, i in acked.items():
                assert log.entry(i) == e
    assert loops >= (5 if db_url is None else 3) and len(acked) > 0
    with Ledger.open(d, db_url=db_url) as log:
        v = note.Verifier.parse(log.verifier_key())
        for text in checkpoints:
            cp, _ = open_checkpoint(text, v)
            assert log.root(cp.size) == cp.root  # consistent with every returned checkpoint
        rep = log.verify()
        assert rep.ok, rep.problems
        log.append(b"after the crashes")
