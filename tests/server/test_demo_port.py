"""``make demo``'s port choice: a busy default is replaced, a busy requested port refused."""

from __future__ import annotations

import socket

import pytest

from modelkin_dev.demo import __main__ as demo_main


def _hold(host: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((host, 0))
    sock.listen(1)
    return sock


def test_busy_default_port_is_replaced_by_a_free_one(monkeypatch: pytest.MonkeyPatch) -> None:
    with _hold() as busy:
        taken = busy.getsockname()[1]
        monkeypatch.setattr(demo_main, "DEFAULT_PORT", taken)
        port, note = demo_main.choose_port("127.0.0.1", None)
        assert port != taken and note is not None and str(taken) in note and str(port) in note
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))  # really free


def test_busy_requested_port_is_a_sentence_not_a_traceback() -> None:
    with _hold() as busy:
        taken = busy.getsockname()[1]
        with pytest.raises(SystemExit) as exc:
            demo_main.choose_port("127.0.0.1", taken)
        assert f"port {taken}" in str(exc.value) and "PORT=" in str(exc.value)


def test_free_requested_port_is_used_as_given() -> None:
    with _hold() as probe:
        free = probe.getsockname()[1]
    assert demo_main.choose_port("127.0.0.1", free) == (free, None)
