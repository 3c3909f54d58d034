"""The CPU-heavy forensic endpoints behind a bounded work queue with a per-client budget.

Finding: `POST /api/v1/forensics/candidates` and the compare endpoints took 32 MB uploads,
unauthenticated and unthrottled. Now a heavy request is admitted (or refused at once, 429
for a client over its budget, 503 when the server is full) when its headers arrive, before
its body is read; reads never wait for it.

Deterministic: the "abusive" uploads are held open by the test (their bodies stall on an
event), so the server provably has them in flight while the other requests are made.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
from server_live import Seeded, serve_process

BOUNDARY = "modelkinTestBoundary"


class HeldUpload:
    """A multipart upload to the candidates endpoint whose body stalls until released."""

    def __init__(self, url: str, client_ip: str) -> None:
        self.release = threading.Event()
        self.sent_head = threading.Event()
        self.response: httpx.Response | None = None
        self.thread = threading.Thread(target=self._run, args=(url, client_ip), daemon=True)
        self.thread.start()
        assert self.sent_head.wait(10)

    def _body(self) -> Iterator[bytes]:
        yield (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="fingerprint"; '
            'filename="fp.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        self.sent_head.set()
        self.release.wait(60)
        yield b"not a fingerprint" + f"\r\n--{BOUNDARY}--\r\n".encode()

    def _run(self, url: str, client_ip: str) -> None:
        self.response = httpx.post(
            f"{url}/api/v1/forensics/candidates",
            content=self._body(),
            headers={
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                "X-Forwarded-For": client_ip,
            },
            timeout=90,
        )

    def finish(self) -> httpx.Response:
        self.release.set()
        self.thread.join(90)
        assert self.response is not None
        return self.response


def quick_upload(url: str, client_ip: str) -> httpx.Response:
    return httpx.post(
        f"{url}/api/v1/forensics/candidates",
        files={"fingerprint": ("fp.bin", b"not a fingerprint")},
        headers={"X-Forwarded-For": client_ip},
        timeout=30,
    )


def admitted(url: str, client_ip: str) -> httpx.Response:
    """Repeat a second request from the holder's address until the server shows the held
    upload in flight (429); a server without a budget never does, and the test fails."""
    for _ in range(50):
        r = quick_upload(url, client_ip)
        if r.status_code == 429:
            return r
    return r


def test_abusive_uploads_are_bounded_and_reads_go_on(tmp_path: Path, seeded: Seeded) -> None:
    import shutil

    home = tmp_path / "home"
    shutil.copytree(seeded.home, home)
    opts = ["--forwarded-allow-ips", "127.0.0.1", "--forensic-queue", "2"]
    opts += ["--forensic-per-client", "1", "--forensic-slots", "1"]
    with serve_process(home, *opts) as srv:
        u = srv.url
        assert "1 job(s) computing at once, 2 admitted in all" in " ".join(srv.banner)
        a = HeldUpload(u, "192.0.2.1")
        r = admitted(u, "192.0.2.1")  # the same client again: over its budget
        assert r.status_code == 429, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert int(r.headers["retry-after"]) >= 1 and "in progress" in r.json()["detail"]
        b = HeldUpload(u, "192.0.2.2")
        for _ in range(50):  # wait until b is admitted too: then the queue is full
            full = quick_upload(u, "192.0.2.3")
            if full.status_code == 503:
                break
        assert full.status_code == 503, full.text
        assert "busy" in full.json()["detail"]
        # with every forensic place taken, every kind of read still answers
        for path in ("/", "/api/v1/models", "/checkpoint", "/models/tiny-one", "/search?q=tiny",
                     f"/api/v1/models/{seeded.model_id}/label?format=json", "/docs"):  # fmt: skip
            r = httpx.get(u + path, timeout=10)
            assert r.status_code == 200, (path, r.status_code)
        # the registered-model compare is heavy too: refused while the queue is full
        r = httpx.get(
            f"{u}/api/v1/forensics/compare",
            params={"suspect": "tiny-one", "candidate": "tiny-two"},
            headers={"X-Forwarded-For": "192.0.2.4"},
        )
        assert r.status_code == 503
        # released, the held uploads are answered on their merits, and places free up
        for held in (a, b):
            done = held.finish()
            assert done.status_code == 400, done.text  # not a fingerprint
        assert quick_upload(u, "192.0.2.3").status_code == 400


def test_federated_candidates_pass_the_same_budget(tmp_path: Path) -> None:
    """Finding: ``POST /api/v1/federation/candidates`` (a local 1:N search, then one to every
    peer) was outside the work queue: any client could start as many as it liked."""
    opts = ["--forwarded-allow-ips", "127.0.0.1", "--forensic-per-minute", "1"]
    with serve_process(tmp_path / "home", *opts) as srv:

        def post() -> httpx.Response:
            return httpx.post(
                f"{srv.url}/api/v1/federation/candidates",
                files={"fingerprint": ("fp.bin", b"not a fingerprint")},
                headers={"X-Forwarded-For": "192.0.2.9"},
                timeout=30,
            )

        assert post().status_code != 429  # the first is admitted (and answered on its merits)
        r = post()
        assert r.status_code == 429, r.text
        assert int(r.headers["retry-after"]) >= 1 and "a minute" in r.json()["detail"]
