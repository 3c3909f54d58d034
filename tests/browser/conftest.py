"""Browser fixtures: a live server over a small seeded home, and headless Chromium."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from server_live import live_server, tiny_model  # noqa: E402

from modelkin.registry import (  # noqa: E402
    Registry,
    register_derivation,
    register_identity,
    register_model,
)
from modelkin.server import ServerSettings  # noqa: E402
from modelkin.statements import Identity  # noqa: E402


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("browser")
    home = root / "home"
    alice = Identity.generate("alice")
    with Registry.open(home) as reg:
        register_identity(reg, alice, "Alice Labs")
        for i, name in ((1, "tiny-base"), (2, "tiny-tuned")):
            register_model(
                reg, tiny_model(root / name, i), alice, name=name, version="1",
                organisation="Alice Labs", license="mit", fingerprint=False,
            )  # fmt: skip
        register_derivation(
            reg, alice, child="tiny-tuned", parents=["tiny-base"], relation="finetune"
        )
    key = alice.save(root / "alice.key")
    with live_server(home, ServerSettings(ui_signer=key)) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("browser tests need Debian's chromium at /usr/bin/chromium (.ci/system-deps)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield b
        b.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go (MODELKIN_SCREENSHOTS to keep them)."""
    import os

    keep = os.environ.get("MODELKIN_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        return Path(keep)
    return tmp_path_factory.mktemp("shots")
