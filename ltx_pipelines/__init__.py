"""ltx-pipelines: the core library for fine-tuning LTX-Video and LTX-2 (no Dagster imports)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ltx-pipelines")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
