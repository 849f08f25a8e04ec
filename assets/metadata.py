"""Metadata helpers shared by the assets: tables and pictures that render in the Dagster UI."""

from collections.abc import Iterable, Sequence

import dagster as dg

from ltx_pipelines.media.preview import png_markdown


def table(rows: Sequence[dict], columns: Iterable[str]) -> dg.MetadataValue:
    """A Dagster table of ``rows`` with the given column names (values shown as text)."""
    names = list(columns)
    schema = dg.TableSchema(columns=[dg.TableColumn(name, "string") for name in names])
    records = [
        dg.TableRecord({name: "" if row.get(name) is None else str(row.get(name)) for name in names}) for row in rows
    ]
    return dg.MetadataValue.table(records, schema=schema)


def quarantine_table(entries: Sequence[dict]) -> dg.MetadataValue:
    """Files left out, with the stage that refused each one, the reason and any detail (e.g. FFmpeg's message)."""
    return table(entries, ["path", "stage", "reason", "detail"])


def image(png: bytes, alt: str) -> dg.MetadataValue:
    """A PNG shown inline in the asset's metadata (markdown with a data URI)."""
    return dg.MetadataValue.md(png_markdown(png, alt))
