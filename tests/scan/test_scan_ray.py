"""The same scan on a local Ray cluster (2 CPUs, started once for the test).

Ray is a declared dependency: in CI (``CI`` set) a missing Ray fails this test instead of
skipping it, so the Ray path can never silently go untested."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from modelkin.scan import RayRunner, ScanOptions, SerialRunner, collect, scan_collection


def _require_ray() -> None:
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Ray must be installed in CI: {exc}")
        pytest.skip(f"Ray not installed: {exc}")


def test_local_ray_scan_matches_serial_and_resumes(
    collection: Path, tmp_path: Path, fingerprint_bytes: Callable[[Path], dict[str, bytes]]
) -> None:
    _require_ray()
    serial, out = tmp_path / "serial", tmp_path / "ray"
    entries = collect(collection)
    scan_collection(entries, SerialRunner(), ScanOptions(out_dir=serial, limit=None))
    # the first two models are already done here: Ray gets only the rest
    scan_collection(entries, SerialRunner(), ScanOptions(out_dir=out, limit=2))
    runner = RayRunner(workers=2)
    summary = scan_collection(entries, runner, ScanOptions(out_dir=out))
    assert summary.runner["runner"] == "ray"
    assert summary.runner["cluster_cpus"] == 2
    assert (summary.skipped, summary.done, summary.retried) == (2, 2, 1)
    assert summary.failed[0]["name"] == "broken"
    assert "truncated" in summary.failed[0]["error"]
    assert fingerprint_bytes(out) == fingerprint_bytes(serial)
    import ray

    assert not ray.is_initialized()  # the local cluster was shut down
