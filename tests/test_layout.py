"""Architecture rules a user relies on: the core imports no Dagster; the code location loads."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import ltx_pipelines

ROOT = Path(__file__).resolve().parent.parent


def test_core_library_imports_no_dagster() -> None:
    modules = [m.name for m in pkgutil.walk_packages(ltx_pipelines.__path__, "ltx_pipelines.")]
    modules = [m for m in modules if m != "ltx_pipelines.registry.generator_model"]  # sets an MLflow model on import
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] == 'dagster' or m.startswith('dagster_'))\n"
        "print(leaked)\n"
        "sys.exit(1 if leaked else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, f"core modules pulled in Dagster: {result.stdout} {result.stderr[-2000:]}"
    assert len(modules) > 20


def test_workspace_code_location_loads() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr
