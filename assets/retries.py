"""Retry transient failures only: the step asks Dagster for a retry with backoff; a deterministic failure fails."""

import functools
from collections.abc import Callable
from typing import TypeVar

import dagster as dg

from ltx_pipelines.transient import is_transient

F = TypeVar("F", bound=Callable)

MAX_RETRIES = 3
FIRST_WAIT_SECONDS = 5.0


def retry_transient(function: F) -> F:
    """Wrap an asset body (first argument: its context): a transient error (MLflow unreachable, a dropped
    connection, EAGAIN/EIO...) becomes :class:`dagster.RetryRequested` with exponential backoff, up to
    ``MAX_RETRIES``; any other error propagates and the step fails once."""

    @functools.wraps(function)
    def wrapper(context, *args, **kwargs):
        try:
            return function(context, *args, **kwargs)
        except Exception as error:
            if not is_transient(error):
                raise
            wait = FIRST_WAIT_SECONDS * 2**context.retry_number
            context.log.warning(
                f"transient failure (retry {context.retry_number + 1}/{MAX_RETRIES} in {wait:g}s): {error}"
            )
            raise dg.RetryRequested(max_retries=MAX_RETRIES, seconds_to_wait=wait) from error

    return wrapper  # type: ignore[return-value]
