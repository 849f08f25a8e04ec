"""Base model families (LTX-Video, LTX-2) behind one interface, and the tiny presets built offline."""

from ltx_pipelines.models.resolve import ResolvedModel, resolve_model

__all__ = ["ResolvedModel", "resolve_model"]
