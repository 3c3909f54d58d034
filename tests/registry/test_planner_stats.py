"""The SQLite query planner gets statistics at open, so lookups by name use the name index.

Finding (``benchmarks/server_bench.py scale``): without statistics SQLite took the
``status`` index for ``WHERE name = ? AND status = 'active'`` (every active record, then a
sort): 17 ms at 1,000 models, 150 ms at 38,000, and every page and lookup of the server
slowed with the registry.
"""

from __future__ import annotations

from pathlib import Path

from registry_helpers import make_model_dir

from modelkin.registry import Registry, register_identity, register_model
from modelkin.statements import Identity


def test_name_lookups_use_the_name_index(tmp_path: Path) -> None:
    alice = Identity.generate("alice")
    with Registry.open(tmp_path / "home") as reg:
        register_identity(reg, alice, "A")
        for i in range(3):
            register_model(
                reg, make_model_dir(tmp_path / f"m{i}", i), alice, name=f"m{i}", version="1",
                organisation="A", license="mit", fingerprint=False,
            )  # fmt: skip
    with Registry.open(tmp_path / "home") as reg, reg.engine.connect() as conn:
        stats = conn.exec_driver_sql("SELECT tbl FROM sqlite_stat1").scalars().all()
        assert "records" in stats
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT id FROM records WHERE name = 'm1' AND status = 'active' "
            "AND kind IN ('model') ORDER BY ledger_index DESC"
        ).all()
        assert any("ix_records_name" in str(row[-1]) for row in plan), plan
        assert reg.model("m1").name == "m1"
