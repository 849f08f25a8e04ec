"""Where code and configs come from: the code version recorded in lineage tags."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

from ltx_pipelines import __version__


@cache
def code_version() -> str:
    """``<package version>+g<short git sha>`` (``-dirty`` with local changes) or the package version alone."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+g{sha}{'-dirty' if dirty else ''}" if sha else __version__
