"""Time every label output and both export validators on a realistic label.

Prints one table: median wall time over repeats and output size. The schema checks are
measured twice, with the pure-Python ``jsonschema`` (what the exports used before issue 14)
and with ``jsonschema-rs`` (:mod:`modelkin.labels.validation`), to back the claim in that
module's docstring.

Run: ``.venv/bin/python benchmarks/labels_outputs.py``
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "labels"))

from label_samples import minilm_label

from modelkin.labels.export_spdx import export_spdx3
from modelkin.labels.outputs import EXPORT_FORMATS, LABEL_FORMATS
from modelkin.labels.validation import first_error, packaged_schema


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    label = minilm_label()
    rows: list[tuple[str, float, int]] = []
    for name, fn in LABEL_FORMATS.items():
        t, out = timed(lambda fn=fn: fn(label), 5)
        rows.append((f"label --format {name}", t, len(out)))
    for name, fn in EXPORT_FORMATS.items():
        t, out = timed(lambda fn=fn: fn(label), 3)
        checked = " (validated)" if name in ("cyclonedx", "spdx3") else ""
        rows.append((f"export --format {name}{checked}", t, len(out)))
    doc = export_spdx3(label)
    t0 = time.perf_counter()
    import jsonschema

    t_import = time.perf_counter() - t0
    stock = jsonschema.Draft202012Validator(packaged_schema("spdx-3.0.1.schema.json"))
    t_stock, errs = timed(lambda: list(stock.iter_errors(doc)), 1)
    assert errs == []
    t_fast, err = timed(lambda: first_error(doc, "spdx-3.0.1.schema.json"), 3)
    assert err is None
    rows.append(("import jsonschema (with format extras)", t_import, 0))
    rows.append(("SPDX 3.0.1 schema check, jsonschema", t_stock, 0))
    rows.append(("SPDX 3.0.1 schema check, jsonschema-rs", t_fast, 0))
    print(f"{'operation':<48} {'median s':>9} {'bytes':>9}")
    for name, t, size in rows:
        print(f"{name:<48} {t:>9.3f} {size if size else '':>9}")
    print(f"SPDX validation speed-up: {t_stock / t_fast:.1f}x "
          f"({len(doc['@graph'])} graph objects)")  # fmt: skip


if __name__ == "__main__":
    main()
