"""The local services the production-tier tests run against: fresh PostgreSQL databases, a private Redis
database, and subprocesses (MLflow server, Celery workers) that are always stopped, process group and all."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# Overridable for machines whose services live elsewhere; the defaults are CI's.
PG_ADMIN_URL = os.environ.get("LTX_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("LTX_TEST_REDIS_URL", "redis://127.0.0.1:6379")
CLAIM_KEY = "ltx-pipelines-test-claim"


def require_postgres():
    """A psycopg2 connection (autocommit) to the admin database, or skip saying why."""
    import psycopg2

    try:
        connection = psycopg2.connect(PG_ADMIN_URL, connect_timeout=5)
    except psycopg2.OperationalError as error:
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL} (set LTX_TEST_PG_URL): {error}".strip())
    connection.autocommit = True
    return connection


@contextmanager
def fresh_database(admin, prefix: str) -> Iterator[str]:
    """A new, empty database; yields its SQLAlchemy URL (psycopg2 driver) and drops it afterwards."""
    from psycopg2.extensions import parse_dsn

    name = f"{prefix}_{secrets.token_hex(4)}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    params = parse_dsn(PG_ADMIN_URL)
    user, host, port = params.get("user", "postgres"), params.get("host", "127.0.0.1"), params.get("port", "5432")
    password = f":{params['password']}" if params.get("password") else ""
    try:
        yield f"postgresql+psycopg2://{user}{password}@{host}:{port}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def query(url: str, sql: str, *args) -> list[tuple]:
    """Rows of ``sql`` on the database at ``url`` (a SQLAlchemy URL), read straight from PostgreSQL."""
    import psycopg2

    connection = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, args)
            return cursor.fetchall()
    finally:
        connection.close()


@contextmanager
def private_redis_db() -> Iterator[str]:
    """A Redis database (1-15) nobody else is using, claimed atomically; yields its URL and empties it after.

    Celery queue names are fixed (``dagster``, ``gpu``), so two test runs on one Redis must not share a database.
    """
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis not reachable at {REDIS_URL} (set LTX_TEST_REDIS_URL): {error}")
    token = secrets.token_hex(8)
    for index in range(1, 16):
        client = redis.Redis.from_url(f"{REDIS_URL}/{index}")
        if client.set(CLAIM_KEY, token, nx=True, ex=3600):
            if client.dbsize() == 1:
                break
            client.delete(CLAIM_KEY)
    else:
        pytest.fail(f"no free Redis database at {REDIS_URL}: databases 1-15 are all in use")
    try:
        yield f"{REDIS_URL}/{index}"
    finally:
        client.flushdb()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Service:
    """A subprocess in its own process group, its output in a log file."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path, cwd: Path | None = None):
        self.name = name
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll ``ready`` until it holds; fail with the log's tail if the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            if self.process.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.process.returncode} before {what}:\n{self.tail()}")
            time.sleep(0.5)
        pytest.fail(f"{self.name}: no {what} within {timeout:.0f}s:\n{self.tail()}")

    def terminate(self) -> None:
        """SIGTERM to the whole process group (stop() waits for it)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM to the whole process group, SIGKILL after ``grace`` seconds."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                try:
                    os.killpg(self.process.pid, 0)
                except ProcessLookupError:
                    self.process.poll()
                    return
                self.process.poll()
                time.sleep(0.2)
