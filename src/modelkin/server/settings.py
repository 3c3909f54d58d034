"""Operator settings for one server: who may write, how fast, and how much at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: Host names a loopback-bound server answers to. Anything else is refused, so a web page
#: on another site cannot reach the server through DNS rebinding (its name resolving to
#: 127.0.0.1) and use the operator's web-form key.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


@dataclass(frozen=True)
class WorkBudget:
    """How much CPU-heavy forensic work (1:N search, compare, full log verification) the
    server accepts at once, and from one client.

    ``slots`` jobs compute at a time; ``queue`` jobs may be admitted in all (computing or
    waiting, uploads included), so these requests never hold more than ``queue`` of the
    server's worker threads and reads keep the rest. One client (its address, or its
    organisation when it presents an API token) may have ``per_client`` admitted at once
    and start ``per_minute`` a minute. A queued job waits at most ``wait_s`` seconds for a
    slot. Over a limit the answer is immediate: 429 (this client) or 503 (the server is
    busy), with Retry-After."""

    slots: int = 1
    queue: int = 4
    per_client: int = 1
    per_minute: int = 30
    wait_s: float = 60.0


@dataclass(frozen=True)
class ServerSettings:
    """Knobs an operator sets; the defaults suit a single-machine registry.

    ``tokens`` maps API token -> organisation. When it is non-empty every write needs
    ``Authorization: Bearer <token>`` *in addition to* a valid DSSE signature from a
    registered key: the signature proves who signed, the token proves the operator admitted
    that organisation, and the DSSE signer's registered organisation must be the token's
    (see :mod:`.orgs`). Reads are always public.

    ``read_only`` refuses every write (statements, the web form), whatever else is set.

    ``witnesses`` are signed-note verifier keys (cosignature/v1) of witnesses the operator
    trusts: their cosignatures are accepted, stored and served with the checkpoint.

    ``allowed_hosts`` are the ``Host`` header values served (``"*"``: any); the default is
    loopback only, matching the default bind address (``modelkin serve`` widens it to any
    host when it listens on another interface, unless ``--allowed-host`` is given).

    Federation (see :mod:`.federation`): ``policies`` are Sigsum-format trust policy files
    (one per log: its key and URL, its witnesses with their URLs, its quorum); ``witness_dir``
    (with ``witness_name``) makes this server a C2SP tlog-witness for the policy's logs;
    ``mirrors`` are URLs of logs this server follows and serves read-only.
    """

    tokens: dict[str, str] = field(default_factory=dict)
    max_body_bytes: int = 1 << 20
    max_upload_bytes: int = 32 << 20
    writes_per_minute: int = 120
    ui_signer: Path | None = None
    tiles_dir: Path | None = None
    witnesses: tuple[str, ...] = ()
    read_only: bool = False
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    work: WorkBudget = field(default_factory=WorkBudget)

    policies: tuple[Path, ...] = ()
    witness_dir: Path | None = None
    witness_name: str | None = None
    mirrors: tuple[str, ...] = ()
    mirror_interval: float = 5.0
    witness_interval: float = 30.0
    public_url: str | None = None

    def organisation_for(self, token: str | None) -> str | None:
        """The organisation a token belongs to, or None if unknown."""
        if token is None:
            return None
        return self.tokens.get(token)

    @property
    def write_mode(self) -> str:
        """``closed``, ``token-gated`` or ``open`` (anyone may register a key and write)."""
        if self.read_only:
            return "closed"
        return "token-gated" if self.tokens else "open"

    @property
    def web_form_enabled(self) -> bool:
        """Whether the works form is offered: a signing key, writes open, no tokens (a form
        has no way to present one)."""
        return self.ui_signer is not None and self.write_mode == "open"
