"""Synthetic, deterministic, coherent data for the mock registries (see ``providers.synth.seed``)."""

from __future__ import annotations

from providers.synth.seed import REFERENCE_DAY, SeedResult, generate, load_geography, sample_ids

__all__ = ["REFERENCE_DAY", "SeedResult", "generate", "load_geography", "sample_ids"]
