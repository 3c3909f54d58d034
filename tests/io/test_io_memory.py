"""Streaming a large safetensors file keeps peak RSS near one tensor, not the file size."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

N_TENSORS, ROWS, COLS = 10, 1280, 4096  # 10 x 20 MiB of F32 = 200 MiB
TENSOR_BYTES = ROWS * COLS * 4

CHILD = r"""
import resource, sys
import numpy as np
from modelkin.io import open_model
from modelkin.arch import role_map, structure

def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

src = open_model(sys.argv[1])
src.read(src.tensors()[0].name, slice(0, 1))  # warm up the code path
before = peak_mib()
total = 0.0
for info, arr in src.iter_tensors():
    total += float(arr[::97, ::89].sum())
    del arr
structure(src, role_map(src))
after = peak_mib()
src.close()
print(before, after, total)
"""


def _write_big(path: Path) -> None:
    header = {
        f"model.layers.{i}.mlp.up_proj.weight": {
            "dtype": "F32",
            "shape": [ROWS, COLS],
            "data_offsets": [i * TENSOR_BYTES, (i + 1) * TENSOR_BYTES],
        }
        for i in range(N_TENSORS)
    }
    h = json.dumps(header).encode()
    chunk = np.arange(COLS * 64, dtype=np.float32).tobytes()  # 1 MiB
    with path.open("wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for _ in range(N_TENSORS * TENSOR_BYTES // len(chunk)):
            f.write(chunk)


@pytest.mark.slow
def test_streaming_200mb_keeps_rss_bounded(tmp_path: Path) -> None:
    path = tmp_path / "big.safetensors"
    _write_big(path)
    assert path.stat().st_size > 200 * 2**20
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split()
    before, after = float(out[0]), float(out[1])
    growth = after - before
    tensor_mib = TENSOR_BYTES / 2**20
    # One float32 copy of the largest tensor plus its mapped pages while copying, plus slack.
    assert growth < 2 * tensor_mib + 40, f"peak RSS grew by {growth:.0f} MiB streaming 200 MiB"
