"""A real ``mlflow server`` (deploy/mlflow-server.sh) on a fresh PostgreSQL database, for registry tests against
the server tier; ``stop``/``start`` simulate an outage."""

from __future__ import annotations

import contextlib
import os
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.services import Service, free_port, fresh_database, require_postgres

SCRIPT = Path(__file__).resolve().parent.parent / "deploy" / "mlflow-server.sh"


@dataclass
class MlflowServer:
    """The server process and where it keeps things."""

    backend_uri: str
    artifacts: Path
    port: int
    log_dir: Path
    service: Service | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> None:
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "MLFLOW_BACKEND_STORE_URI": self.backend_uri,
            "MLFLOW_ARTIFACTS_DESTINATION": str(self.artifacts),
            "MLFLOW_HOST": "127.0.0.1",
            "MLFLOW_PORT": str(self.port),
            "MLFLOW_WORKERS": "1",
        }
        env.pop("MLFLOW_TRACKING_URI", None)
        log = self.log_dir / f"mlflow-server-{self.port}.log"
        self.service = Service("mlflow server", ["bash", str(SCRIPT)], env, log)
        self.service.wait_until(self.healthy, timeout, "answer on /health")

    def healthy(self) -> bool:
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
            return response.status == 200
        return False

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()
            self.service = None


@contextlib.contextmanager
def mlflow_server(tmp: Path) -> Iterator[MlflowServer]:
    """``mlflow server`` backed by a fresh PostgreSQL database; skips when PostgreSQL is not reachable."""
    admin = require_postgres()
    try:
        with fresh_database(admin, "ltx_mlflow") as backend:
            server = MlflowServer(backend, tmp / "artifacts", free_port(), tmp)
            server.start()
            try:
                yield server
            finally:
                server.stop()
    finally:
        admin.close()
