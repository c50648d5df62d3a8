"""Helpers for the training tests (the command-line tests' helpers, shared)."""

from ..cli.cli_helpers import read_metrics, run_cli, weights_equal

__all__ = ["read_metrics", "run_cli", "weights_equal"]
