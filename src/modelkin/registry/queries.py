"""Reading the registry: records by kind, id, digest or name; search; history.

A mixin of :class:`~modelkin.registry.core.Registry` (it needs only ``self.engine``); the
bounded, paged forms the server uses live in :mod:`.pages`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Engine, func, or_, select
from sqlalchemy.engine import Row

from modelkin.errors import NotFoundError
from modelkin.registry import tables as t
from modelkin.registry.database import hex_prefix, is_hex
from modelkin.registry.results import Record, Verification
from modelkin.registry.verdicts import current, from_row


class RegistryQueries:
    """Read-only queries over the registry tables."""

    engine: Engine

    @property
    def trusted_verifiers(self) -> frozenset[str]:
        """Keyids whose verification statements decide a claim's status (:mod:`.verdicts`)."""
        return frozenset()

    def records(self, kind: str | None = None, include_inactive: bool = False) -> list[Record]:
        """Records of ``kind`` (all kinds if None), newest last; active only by default."""
        q = select(t.records).order_by(t.records.c.ledger_index)
        if kind is not None:
            q = q.where(t.records.c.kind == kind)
        if not include_inactive:
            q = q.where(t.records.c.status == "active")
        with self.engine.connect() as conn:
            return self._to_records(conn, conn.execute(q).all())

    def models(self) -> list[Record]:
        return self.records("model")

    def datasets(self) -> list[Record]:
        return self.records("dataset")

    def training_runs(self) -> list[Record]:
        return self.records("training-run")

    def products(self) -> list[Record]:
        return self.records("product")

    def works(self) -> list[Record]:
        return self.records("work")

    def identities(self) -> list[dict[str, Any]]:
        """Registered identities (name, keyid, status, public key)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.identities).order_by(t.identities.c.name)).all()
        return [
            {
                "name": r.name,
                "keyid": r.keyid,
                "status": r.status,
                "record_id": r.record_id,
                "public_key_pem": r.public_key_pem,
            }
            for r in rows
        ]

    def record(self, ref: str, kind: str | None = None) -> Record:
        """One record by id (or unique id prefix of >= 8 hex), subject digest, or name.

        Names and digests resolve to the newest active record; ids resolve to any status."""
        kinds = (kind,) if kind else None
        with self.engine.connect() as conn:
            row = self._resolve(conn, ref, kinds)
            return self._to_records(conn, [row])[0]

    def model(self, ref: str) -> Record:
        """A model by record id, manifest digest, or name."""
        return self.record(ref, "model")

    def derivations(self, model: str) -> list[Record]:
        """Active derivation claims in which ``model`` (ref or digest) is child or parent."""
        digest = self._digest_of(model)
        key = f"sha256:{digest}"
        with self.engine.connect() as conn:
            ids = select(t.edges.c.record_id).where(or_(t.edges.c.src == key, t.edges.c.dst == key))
            rows = conn.execute(
                select(t.records)
                .where(t.records.c.id.in_(ids), t.records.c.kind == "derivation")
                .where(t.records.c.status == "active")
                .order_by(t.records.c.ledger_index)
            ).all()
            return self._to_records(conn, rows)

    def search(self, text_: str, kind: str | None = None) -> list[Record]:
        """Active records whose name, organisation, digest or predicate mention ``text_``."""
        needle = text_.lower()
        with self.engine.connect() as conn:
            matches = [
                func.lower(t.records.c.name).contains(needle, autoescape=True),
                func.lower(t.records.c.organisation).contains(needle, autoescape=True),
                func.lower(t.records.c.predicate_json).contains(needle, autoescape=True),
            ]
            if is_hex(needle):  # a digest prefix: an index range, never a LIKE pattern
                sub = select(t.subjects.c.record_id).where(hex_prefix(t.subjects.c.sha256, needle))
                matches.append(t.records.c.id.in_(sub))
            q = select(t.records).where(t.records.c.status == "active", or_(*matches))
            if kind:
                q = q.where(t.records.c.kind == kind)
            rows = conn.execute(q.order_by(t.records.c.ledger_index)).all()
            return self._to_records(conn, rows)

    def history(self, ref: str) -> list[Record]:
        """A record and every earlier version it amends, newest first."""
        out = [self.record(ref)]
        while out[-1].supersedes:
            out.append(self.record(out[-1].supersedes))
        return out

    def _digest_of(self, ref: str) -> str:
        if len(ref) == 64 and all(c in "0123456789abcdef" for c in ref):
            return ref
        rec = self.record(ref)
        if rec.digest is None:  # pragma: no cover - every record has a subject
            raise NotFoundError(ref, "record has no subject digest")
        return rec.digest

    @staticmethod
    def _resolve(conn: Connection, ref: str, kinds: tuple[str, ...] | None) -> Row[Any]:
        def scoped(q: Any) -> Any:
            return q.where(t.records.c.kind.in_(kinds)) if kinds else q

        ref = ref.strip()
        what = kinds[0] if kinds else "record"
        if ref and all(c in "0123456789abcdef" for c in ref) and len(ref) >= 8:
            rows = conn.execute(
                scoped(select(t.records).where(hex_prefix(t.records.c.id, ref))).limit(2)
            ).all()
            if len(rows) > 1:
                raise NotFoundError(ref, f"ambiguous {what} id prefix (more than one match)")
            if rows:
                return rows[0]
            subq = select(t.subjects.c.record_id).where(hex_prefix(t.subjects.c.sha256, ref))
            row = conn.execute(
                scoped(
                    select(t.records).where(
                        t.records.c.id.in_(subq), t.records.c.status == "active"
                    )
                ).order_by(t.records.c.ledger_index.desc())
            ).first()
            if row is not None:
                return row
        row = conn.execute(
            scoped(
                select(t.records).where(t.records.c.name == ref, t.records.c.status == "active")
            ).order_by(t.records.c.ledger_index.desc())
        ).first()
        if row is None:
            raise NotFoundError(ref, f"no active {what} with this id, digest or name")
        return row

    def _to_records(self, conn: Connection, rows: Iterable[Row[Any]]) -> list[Record]:
        rows = list(rows)
        if not rows:
            return []
        ids = [r.id for r in rows]
        subs: dict[str, list[tuple[str, str]]] = {i: [] for i in ids}
        for s in conn.execute(
            select(t.subjects)
            .where(t.subjects.c.record_id.in_(ids))
            .order_by(t.subjects.c.position)
        ):
            subs[s.record_id].append((s.name, s.sha256))
        ver_rows = conn.execute(
            select(t.verifications)
            .where(t.verifications.c.record_id.in_(ids))
            .order_by(t.verifications.c.id)
        ).all()
        verifiers = {json.loads(v.detail_json).get("verifier") for v in ver_rows}
        ver_names = _identity_names(conn, sorted(k for k in verifiers if isinstance(k, str)))
        vers: dict[str, list[Verification]] = {i: [] for i in ids}
        for v in ver_rows:
            vers[v.record_id].append(from_row(v, ver_names))
        refs: dict[str, list[str]] = {i: [] for i in ids}
        for e in conn.execute(select(t.edges).where(t.edges.c.record_id.in_(ids))):
            for end in (e.src, e.dst):
                if end.startswith("sha256:"):
                    refs[e.record_id].append(end[7:])
        known = _known_artifacts(conn, {d for ds in refs.values() for d in ds})
        names = _identity_names(conn, sorted({r.signer_keyid for r in rows}))
        return [
            Record(
                id=r.id,
                kind=r.kind,
                statement_kind=r.statement_kind,
                name=r.name,
                version=r.version,
                organisation=r.organisation,
                signer_keyid=r.signer_keyid,
                signer_name=names.get(r.signer_keyid),
                ledger_index=r.ledger_index,
                received_at=r.received_at,
                status=r.status,
                supersedes=r.supersedes,
                superseded_by=r.superseded_by,
                status_reason=r.status_reason,
                subjects=subs[r.id],
                predicate=json.loads(r.predicate_json),
                envelope=json.loads(r.envelope_json),
                dangling=sorted({d for d in refs[r.id] if d not in known}),
                verifications=current(vers[r.id], self.trusted_verifiers),
                verification_history=vers[r.id],
            )
            for r in rows
        ]


def _identity_names(conn: Connection, keyids: list[str]) -> dict[str, str]:
    if not keyids:
        return {}
    return {
        r.keyid: r.name
        for r in conn.execute(
            select(t.identities.c.keyid, t.identities.c.name).where(
                t.identities.c.keyid.in_(keyids)
            )
        )
    }


def _known_artifacts(conn: Connection, digests: set[str]) -> set[str]:
    if not digests:
        return set()
    rows = conn.execute(
        select(t.subjects.c.sha256)
        .join(t.records, t.records.c.id == t.subjects.c.record_id)
        .where(
            t.subjects.c.sha256.in_(sorted(digests)),
            t.records.c.kind.in_(("model", "dataset")),
            t.records.c.status == "active",
        )
    ).scalars()
    return set(rows)
