"""Shared runner for the pipeline files: each file names its CLI call; extra arguments are appended."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from streammem.cli import main


def run_pipeline(argv: Sequence[str]) -> None:
    """Run ``streammem <argv> <command-line extras>`` and exit with its code."""
    sys.exit(main([*argv, *sys.argv[1:]]))
