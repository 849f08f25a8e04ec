"""Which failures are worth retrying later (the service or the disk hiccuped) and which would fail again."""

from __future__ import annotations

import errno

from ltx_pipelines.registry.client import RegistryUnavailableError

# OS errors that go away by themselves: busy or stale network file systems, interrupted or timed-out I/O.
TRANSIENT_ERRNOS = frozenset({errno.EAGAIN, errno.EBUSY, errno.EINTR, errno.ETIMEDOUT, errno.ESTALE, errno.EIO})


def is_transient(error: BaseException) -> bool:
    """True for an unreachable MLflow (after its own retries), a dropped connection or a transient OS error.
    Everything else (bad input, a full disk, a bug) is deterministic: retrying it would fail the same way."""
    if isinstance(error, (RegistryUnavailableError, ConnectionError, TimeoutError)):
        return True
    return isinstance(error, OSError) and error.errno in TRANSIENT_ERRNOS
