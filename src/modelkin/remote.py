"""A registry on another machine, reached over its HTTP API (``modelkin --server URL ...``).

:class:`RemoteRegistry` offers what the registration builders of :mod:`modelkin.registry`
use from a registry (``submit``, ``blobs``, ``record``, ``model``), so ``register model``,
``keys new``, ``register derivation`` and the rest build, sign and check a statement on
this machine exactly as they do locally, and only the submission travels. The weights stay
here; what is sent is the signed envelope and the blobs it names: the fingerprint computed
here (so the server's lineage checks can load it, as for a local registration), an OpenSSF
signing bundle, a loss curve (``POST /api/v1/statements/with-blobs``).

Reads (records, lineage, forensic compare and 1:N candidates) are the API's JSON. Server
refusals (problem+json) become :class:`ModelkinError` naming the server's ``detail``; an
unreachable server is one line, never a traceback.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from modelkin.errors import ModelkinError, NotFoundError
from modelkin.registry.blobs import BlobStore
from modelkin.registry.results import Receipt, Record, Verification

#: Seconds to wait for an answer (forensic requests compute on the server).
TIMEOUT = 300.0
#: Most pages of a list followed before giving up (pages are at most 200 items).
MAX_PAGES = 50


class PendingBlobs(BlobStore):
    """A blob store in a temporary directory that remembers what the builders put in it:
    those blobs travel with the next statement submitted."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.pending: list[str] = []

    def _note(self, digest: str) -> str:
        if digest not in self.pending:
            self.pending.append(digest)
        return digest

    def put_bytes(self, data: bytes) -> str:
        return self._note(super().put_bytes(data))

    def put_file(self, src: Path) -> str:
        return self._note(super().put_file(src))


def _problem(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return f"HTTP {resp.status_code}: {resp.text[:200]}"
    if isinstance(body, dict):
        detail = body.get("detail")
        where = body.get("where")
        if isinstance(detail, list):  # FastAPI's request validation errors
            detail = "; ".join(
                f"{'.'.join(str(x) for x in d.get('loc', []))}: {d.get('msg')}"
                for d in detail
                if isinstance(d, dict)
            )
        if detail:
            return f"{detail}" + (f" ({where})" if where else "")
    return f"HTTP {resp.status_code}"


def record_from_dict(d: dict[str, Any]) -> Record:
    """A :class:`Record` from the API's JSON (``Record.to_dict(envelope=True)``)."""
    signer = d.get("signer") or {}
    return Record(
        id=d["id"],
        kind=d["kind"],
        statement_kind=d.get("statement_kind", d["kind"]),
        name=d.get("name"),
        version=d.get("version"),
        organisation=d.get("organisation"),
        signer_keyid=signer.get("keyid", ""),
        signer_name=signer.get("name"),
        ledger_index=int(d["ledger_index"]),
        received_at=d.get("received_at", ""),
        status=d.get("status", "active"),
        supersedes=d.get("supersedes"),
        superseded_by=d.get("superseded_by"),
        status_reason=d.get("status_reason"),
        subjects=[(s["name"], s["sha256"]) for s in d.get("subjects", [])],
        predicate=d.get("predicate") or {},
        envelope=d.get("envelope") or {},
        dangling=list(d.get("dangling") or []),
        verifications=[_verification(v) for v in d.get("verifications") or []],
        verification_history=[_verification(v) for v in d.get("verification_history") or []],
    )


def _verification(v: dict[str, Any]) -> Verification:
    """A verification as the server's JSON gives it (who signed it included)."""
    return Verification(
        child_sha256=v["child_sha256"],
        parent_sha256=v.get("parent_sha256"),
        verdict=v["verdict"],
        detail=v.get("detail") or {},
        verifier_name=(v.get("verifier") or {}).get("name"),
    )


class RemoteRegistry:
    """The registry served at ``url`` (see the module docstring). Use as a context manager."""

    def __init__(self, url: str, token: str | None = None, timeout: float = TIMEOUT) -> None:
        if not url.startswith(("http://", "https://")):
            raise ModelkinError("--server", f"{url!r} is not an http:// or https:// URL")
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        self._tmp = tempfile.TemporaryDirectory(prefix="modelkin-remote-")
        self.blobs = PendingBlobs(Path(self._tmp.name))

    def close(self) -> None:
        self.client.close()
        self._tmp.cleanup()

    def __enter__(self) -> RemoteRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport
    def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            resp = self.client.request(method, path, **kw)
        except httpx.TimeoutException:
            raise ModelkinError(self.url, f"no answer to {method} {path} in time") from None
        except httpx.HTTPError as exc:
            raise ModelkinError(self.url, f"cannot reach the server: {exc}") from None
        if resp.status_code == 404:
            raise NotFoundError(f"{self.url}{path}", _problem(resp))
        if resp.status_code >= 400:
            retry = resp.headers.get("retry-after")
            extra = f"; retry after {retry} s" if retry else ""
            raise ModelkinError(
                f"{self.url}{path}", f"refused ({resp.status_code}): {_problem(resp)}{extra}"
            )
        return resp

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        resp = self._send(method, path, **kw)
        try:
            return resp.json()
        except ValueError:
            raise ModelkinError(f"{self.url}{path}", "the server's answer is not JSON") from None

    # ------------------------------------------------------------------ writes
    def submit(self, envelope: dict[str, Any]) -> Receipt:
        """Submit a signed envelope, with the blobs the builders stored since the last one."""
        pending, self.blobs.pending = self.blobs.pending, []
        if not pending:
            body = self._json("POST", "/api/v1/statements", json=envelope)
        else:
            handles = [self.blobs.path(d).open("rb") for d in pending]
            try:
                files: list[tuple[str, tuple[str, Any, str]]] = [
                    ("envelope", ("envelope.json", json.dumps(envelope), "application/json"))
                ]
                files += [
                    ("blob", (d, fh, "application/octet-stream"))
                    for d, fh in zip(pending, handles, strict=True)
                ]
                body = self._json("POST", "/api/v1/statements/with-blobs", files=files)
            finally:
                for fh in handles:
                    fh.close()
        return Receipt(**{k: body[k] for k in Receipt.__dataclass_fields__ if k in body})

    # ------------------------------------------------------------------ reads
    def record(self, ref: str, kind: str | None = None) -> Record:
        """A record by id, id prefix, digest or name (``kind`` narrows to one kind)."""
        if kind == "model":
            return self.model(ref)
        rec = record_from_dict(self._json("GET", f"/api/v1/records/{quote(ref, safe='')}"))
        if kind is not None and rec.kind != kind:
            raise NotFoundError(ref, f"{self.url} has no {kind} record {ref}")
        return rec

    def model(self, ref: str) -> Record:
        return record_from_dict(self._json("GET", f"/api/v1/models/{quote(ref, safe='')}"))

    def lineage(self, ref: str) -> dict[str, Any]:
        """The lineage graph JSON (``LineageGraph.to_dict``)."""
        return dict(self._json("GET", f"/api/v1/models/{quote(ref, safe='')}/lineage"))

    def lineage_svg(self, ref: str) -> str:
        return self._send("GET", f"/api/v1/models/{quote(ref, safe='')}/lineage.svg").text

    def search(self, text: str, kind: str | None = None) -> list[Record]:
        """Records matching ``text``, every page followed (at most :data:`MAX_PAGES`)."""
        out: list[Record] = []
        params: dict[str, Any] = {"q": text, "limit": 200}
        if kind:
            params["kind"] = kind
        for _ in range(MAX_PAGES):
            page = self._json("GET", "/api/v1/search", params=params)
            out += [record_from_dict(r) for r in page["items"]]
            if not page.get("next_cursor"):
                return out
            params["cursor"] = page["next_cursor"]
        raise ModelkinError(self.url, f"more than {MAX_PAGES * 200} results; narrow the search")

    def compare(self, suspect: str, candidate: str) -> dict[str, Any]:
        """The forensic report of two registered models (``Report.to_dict``)."""
        params = {"suspect": suspect, "candidate": candidate}
        return dict(self._json("GET", "/api/v1/forensics/compare", params=params))

    def compare_html(self, suspect: str, candidate: str) -> str:
        """The same comparison as an HTML evidence report."""
        params = {"suspect": suspect, "candidate": candidate, "format": "html"}
        return self._send("GET", "/api/v1/forensics/compare", params=params).text

    def candidates(self, fingerprint: Path, limit: int) -> dict[str, Any]:
        """1:N: the registered models closest to a fingerprint file, compared in full."""
        with fingerprint.open("rb") as fh:
            files = {"fingerprint": (fingerprint.name, fh, "application/octet-stream")}
            return dict(
                self._json(
                    "POST", "/api/v1/forensics/candidates", params={"limit": limit}, files=files
                )
            )
