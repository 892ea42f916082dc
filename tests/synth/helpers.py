"""Shared by the synthetic corpus tests (tests/synth/, tests/e2e/test_synth_command.py)."""

from __future__ import annotations

SR = 8000  # low rate keeps the tests fast; the code path is the same as at 48 kHz
