"""Seed a data home with a small, real, self-explaining registry (``modelkin demo``)."""

from __future__ import annotations

from modelkin_dev.demo.seed import DemoSummary, demo_signer, seed_demo

__all__ = ["DemoSummary", "demo_signer", "seed_demo"]
