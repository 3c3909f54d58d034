"""A log asking its witnesses to cosign (the client side of c2sp.org/tlog-witness).

For each witness of the policy that has a URL, :meth:`WitnessSubmitter.submit` sends
``POST <url>/add-checkpoint`` with ``old <size the witness last cosigned>``, the
consistency proof from that size (none from 0) and the log's latest checkpoint. A 409
reply names the size the witness really holds (``text/x.tlog.size``): the request is
rebuilt from that size once. A witness that holds a *larger* size of this log than the
log itself, or the same size with another root (409 for an old size equal to ours), has
seen a fork or a rollback of this log: that is reported, never retried around.

Returned cosignatures are verified with the policy's witness keys before they are kept.
When those on one checkpoint satisfy the policy's quorum, the cosigned note is written
atomically to ``witnessed.checkpoint`` (only ever forwards): that is what the log then
serves as its checkpoint, and what proofs carry, so every client can check the quorum.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelkin.errors import LedgerError
from modelkin.fsio import write_atomic
from modelkin.ledger import note as _note
from modelkin.ledger.checkpoint import parse as parse_checkpoint
from modelkin.ledger.checkpoint import parse_size
from modelkin.ledger.policy import Policy, Verdict, WitnessKey
from modelkin.ledger.witness import format_request

WITNESSED = "witnessed.checkpoint"
MAX_REPLY = 64 * 1024


@dataclass
class Submission:
    """One witness's answer to one checkpoint."""

    witness: str
    status: int
    size: int | None = None
    message: str = ""
    cosignature: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "witness": self.witness,
            "status": self.status,
            "size": self.size,
            "message": self.message,
            "seconds": round(self.seconds, 4),
        }


@dataclass
class Round:
    """The outcome of submitting one checkpoint to every witness."""

    size: int
    submissions: list[Submission] = field(default_factory=list)
    note: str | None = None
    satisfied: bool = False
    vouched: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "satisfied": self.satisfied,
            "vouched_by": self.vouched,
            "submissions": [s.to_dict() for s in self.submissions],
        }


ProofFn = Callable[[int, int], list[bytes]]
"""``proof(old, new)``: the log's RFC 9162 consistency proof (old >= 1)."""


class WitnessSubmitter:
    """Collects cosignatures for one log's checkpoints from the policy's witnesses."""

    def __init__(self, state_dir: Path, policy: Policy, timeout: float = 10.0) -> None:
        import httpx

        self.state_dir = Path(state_dir)
        self.policy = policy
        self.witnesses = [w for w in policy.witnesses.values() if w.url]
        self._client = httpx.Client(timeout=timeout)
        self._known: dict[str, int] = {}
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.alarms: list[dict[str, Any]] = []
        self.last: Round | None = None

    # ---- one witness ---------------------------------------------------------------
    def _post(self, w: WitnessKey, old: int, proof: list[bytes], note: str) -> tuple[int, str, str]:
        import httpx

        body = format_request(old, proof, note).encode()
        try:
            r = self._client.post(
                f"{w.url}/add-checkpoint", content=body, headers={"Content-Type": "text/plain"}
            )
        except httpx.HTTPError as exc:
            return 0, f"cannot reach the witness ({exc})", ""
        text = r.text[:MAX_REPLY]
        return r.status_code, text, r.headers.get("content-type", "")

    def _one(self, w: WitnessKey, note: str, size: int, proof: ProofFn) -> Submission:
        t0 = time.perf_counter()
        old = min(self._known.get(w.name, 0), size)
        sub = Submission(w.name, 0)
        for _ in range(2):  # the first answer may correct our idea of the witness's size
            prf = [] if old in (0, size) else proof(old, size)
            status, text, ctype = self._post(w, old, prf, note)
            sub = Submission(w.name, status, message=text.strip()[:300])
            if status == 200:
                sub.cosignature, sub.size = self._check_reply(w, note, text), size
                if sub.cosignature is None:
                    sub.status, sub.message = (
                        502,
                        "reply holds no valid cosignature by this witness",
                    )
                else:
                    self._known[w.name] = size
                break
            if status != 409:
                break
            try:
                held = parse_size(text.strip(), f"witness {w.name}", "size")
            except LedgerError:
                sub.message = f"409 without a size ({ctype}): {sub.message}"
                break
            sub.size = held
            if held > size or held == old:
                self._alarm(w.name, size, held, note, text)
                sub.message = (
                    f"the witness holds size {held} of this log ({'larger' if held > size else 'same size, another root'}): "
                    "a fork or rollback of this log was shown to it"
                )
                break
            old = held
            self._known[w.name] = held
        sub.seconds = time.perf_counter() - t0
        return sub

    def _check_reply(self, w: WitnessKey, note: str, text: str) -> str | None:
        """The reply's cosignature line by ``w`` if it verifies on ``note``'s body."""
        lines = [ln + "\n" for ln in text.split("\n") if ln.startswith("\u2014 ")]
        body, _ = _note.split(note)
        for line in lines:
            try:
                _, extra = _note.split(body + "\n" + line)
                if w.cosignature_time(body, extra) is not None:
                    return line
            except LedgerError:
                continue
        return None

    def _alarm(self, witness: str, size: int, held: int, note: str, reply: str) -> None:
        doc = {"witness": witness, "log_size": size, "witness_size": held, "checkpoint": note,
               "reply": reply[:1000], "seen_at": int(time.time())}  # fmt: skip
        with self._lock:
            self.alarms.append(doc)
            del self.alarms[:-50]

    # ---- a round -------------------------------------------------------------------
    def submit(self, note: str, proof: ProofFn) -> Round:
        """Submit ``note`` (the log's latest signed checkpoint) to every witness at once;
        keep and write the cosigned note when the policy's quorum is satisfied."""
        body, _ = _note.split(note)
        size = parse_checkpoint(body).size
        rnd = Round(size)
        if self.witnesses:
            with ThreadPoolExecutor(len(self.witnesses)) as pool:
                rnd.submissions = list(
                    pool.map(lambda w: self._one(w, note, size, proof), self.witnesses)
                )
        cosigned = note + "".join(s.cosignature for s in rnd.submissions if s.cosignature)
        verdict = self.policy.check(cosigned)
        rnd.satisfied, rnd.vouched = verdict.satisfied, sorted(verdict.vouched)
        if verdict.satisfied:
            rnd.note = cosigned
            self._keep(cosigned, size)
        with self._cond:
            self.last = rnd
            self._cond.notify_all()
        return rnd

    def _keep(self, cosigned: str, size: int) -> None:
        with self._lock:
            cur = self.witnessed()
            if cur is not None and parse_checkpoint(_note.split(cur)[0]).size > size:
                return  # only ever forwards
            write_atomic(self.state_dir / WITNESSED, cosigned.encode())

    def witnessed(self) -> str | None:
        """The newest checkpoint whose cosignatures satisfied the policy."""
        try:
            return (self.state_dir / WITNESSED).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def wait_witnessed(self, size: int, timeout: float) -> str | None:
        """Block until a witnessed checkpoint of ``size`` or more exists (or ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                cur = self.witnessed()
                if cur is not None and parse_checkpoint(_note.split(cur)[0]).size >= size:
                    return cur
                left = deadline - time.monotonic()
                if left <= 0:
                    return cur
                self._cond.wait(left)

    # ---- background ----------------------------------------------------------------
    def start(self, latest: Callable[[], tuple[str, ProofFn]], interval: float = 30.0) -> None:
        """Submit in a background thread whenever :meth:`notify` is called (the log grew)
        and every ``interval`` seconds (witnesses only vouch for what they were shown)."""

        def run() -> None:
            last = None
            while not self._stop.is_set():
                self._wake.wait(interval)
                self._wake.clear()
                if self._stop.is_set():
                    return
                try:
                    note, proof = latest()
                    if note != last or not (self.last and self.last.satisfied):
                        self.submit(note, proof)
                        last = note
                except LedgerError:
                    continue  # the log is busy or briefly unreadable: next wake-up retries

        self._thread = threading.Thread(target=run, name="witness-submitter", daemon=True)
        self._thread.start()
        self._wake.set()

    def notify(self) -> None:
        """The log grew: submit its new checkpoint soon."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        self._client.close()

    def status(self) -> dict[str, Any]:
        return {
            "witnesses": [
                {"name": w.name, "url": w.url, "known_size": self._known.get(w.name)}
                for w in self.witnesses
            ],
            "last_round": self.last.to_dict() if self.last else None,
            "alarms": list(self.alarms),
        }


def witnessed_tlog_proof(
    log: Any, index: int, policies: list[Path] | None = None
) -> tuple[str, Verdict | None]:
    """A ``.tlog-proof`` of entry ``index`` against the log's witnessed checkpoint when that
    covers the entry (else its latest), and, given policy files, the verdict saying which
    witnesses vouched for that checkpoint."""
    from modelkin.ledger.policy import load_trust
    from modelkin.ledger.tlogproof import format_proof

    note = None
    with suppress(FileNotFoundError):
        note = (Path(log.directory) / WITNESSED).read_text(encoding="utf-8")
    if note is not None and parse_checkpoint(_note.split(note)[0]).size > index:
        size = parse_checkpoint(_note.split(note)[0]).size
        text = format_proof(index, log.inclusion_proof(index, size), note)
    else:
        note = log.checkpoint()
        text = log.tlog_proof(index)
    verdict = load_trust(list(policies)).check(note) if policies else None
    return text, verdict
