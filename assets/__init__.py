"""The Dagster asset graph: one module per pipeline stage, each a thin wrapper around ltx_pipelines."""
