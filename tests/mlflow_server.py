"""A real ``mlflow server`` on a fresh PostgreSQL database, for registry tests against the server tier."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

POSTGRES = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A new PostgreSQL database (dropped afterwards); skips the test when PostgreSQL is not reachable."""
    try:
        import psycopg2
    except ImportError:
        pytest.skip("psycopg2 is not installed: the MLflow server tier cannot be tested")
    try:
        admin = psycopg2.connect(connect_timeout=3, **POSTGRES)
    except psycopg2.OperationalError as error:
        pytest.skip(f"PostgreSQL at {POSTGRES['host']}:{POSTGRES['port']} is not reachable: {error}")
    admin.autocommit = True
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://{POSTGRES['user']}@{POSTGRES['host']}:{POSTGRES['port']}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@dataclass
class MlflowServer:
    """A running ``mlflow server`` subprocess; ``stop``/``start`` simulate an outage."""

    backend_uri: str
    artifacts: Path
    port: int
    log: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> None:
        command = [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--backend-store-uri",
            self.backend_uri,
            "--artifacts-destination",
            str(self.artifacts),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
        ]
        env = {**os.environ, "MLFLOW_TRACKING_URI": "", "MLFLOW_REGISTRY_URI": ""}
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"mlflow server exited with {self.process.returncode}: {self.log.read_text()[-3000:]}"
                )
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                if response.status == 200:
                    return
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(
            f"mlflow server did not answer on {self.url} within {timeout:.0f}s: {self.log.read_text()[-3000:]}"
        )

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None


@contextlib.contextmanager
def mlflow_server(tmp: Path) -> Iterator[MlflowServer]:
    """``mlflow server`` backed by a fresh PostgreSQL database, stopped and dropped afterwards."""
    with fresh_database("ltx_mlflow") as backend:
        server = MlflowServer(backend, tmp / "artifacts", free_port(), tmp / "mlflow-server.log")
        server.start()
        try:
            yield server
        finally:
            server.stop()
