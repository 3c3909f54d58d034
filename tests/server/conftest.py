"""One seeded home and one live server per session (API tests share it, read-mostly)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from server_live import Seeded, live_server, tiny_model

from modelkin.registry import Registry, register_derivation, register_identity, register_model
from modelkin.statements import Identity


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    root = tmp_path_factory.mktemp("server")
    home = root / "home"
    alice = Identity.generate("alice")
    with Registry.open(home) as reg:
        register_identity(reg, alice, "Alice Labs")
        rec = register_model(
            reg, tiny_model(root / "m1", 1), alice, name="tiny-one", version="1",
            organisation="Alice Labs", license="mit", fingerprint=False,
        )  # fmt: skip
        model = reg.record(rec.record_id)
        register_model(
            reg, tiny_model(root / "m2", 2), alice, name="tiny-two", version="1",
            organisation="Alice Labs", license="mit", fingerprint=False,
        )  # fmt: skip
        register_derivation(reg, alice, child="tiny-two", parents=["tiny-one"], relation="finetune")
    with live_server(home) as url:
        yield Seeded(home, url, alice, rec.record_id, str(model.digest))
