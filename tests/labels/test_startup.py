"""Start-up of the one-shot commands (issue 14): structural checks, timings in benchmarks/.

``benchmarks/startup_bench.py`` measures the seconds; these tests pin down what each command
must not import, so a stray top-level import cannot silently bring back seconds of start-up
(jsonschema with its format extras alone cost 2.5-6 s of CPU here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from label_samples import minilm_label

from modelkin.labels.model import label_to_json

HEAVY = {"numpy", "sqlalchemy", "fastapi", "jsonschema", "torch", "scipy", "markdown_it"}


def _loaded(args: list[str]) -> tuple[int, set[str]]:
    code = (
        "import sys; from modelkin.cli import main\n"
        f"rc = main({args!r})\n"
        "print(rc, ' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    rc, _, mods = out.stdout.strip().splitlines()[-1].partition(" ")
    return int(rc), set(mods.split())


@pytest.mark.parametrize(
    ("args", "also_not"),
    [
        (["--help"], {"rich", "cyclonedx", "PIL", "huggingface_hub"}),
        (["label", "{label}", "-f", "json"], {"rich", "cyclonedx", "PIL", "huggingface_hub"}),
        (["export", "{label}", "-f", "cyclonedx"], {"rich", "PIL", "huggingface_hub"}),
        (["export", "{label}", "-f", "spdx3"], {"rich", "PIL", "cyclonedx"}),
        (["works", "rules"], {"cyclonedx", "PIL"}),
    ],
)
def test_one_shot_commands_import_only_what_they_need(
    tmp_path: Path, args: list[str], also_not: set[str]
) -> None:
    label = tmp_path / "label.json"
    label.write_text(label_to_json(minilm_label()), encoding="utf-8")
    rc, loaded = _loaded([a.replace("{label}", str(label)) for a in args])
    assert rc == 0
    assert not (HEAVY | also_not) & loaded, sorted((HEAVY | also_not) & loaded)
