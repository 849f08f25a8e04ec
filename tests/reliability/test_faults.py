"""Faults injected into real runs: kill -9 in every stage, a full disk, two materializations of one partition at
once, and the registry's database going away mid-registration. Nothing is lost and the result is the same."""

from __future__ import annotations

import errno
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from assets.materialize import materialize_dataset
from ltx_pipelines.home import Home
from ltx_pipelines.registry import RegistryClient
from ltx_pipelines.registry.client import LINEAGE_TAG
from ltx_pipelines.tensors import load_tensors

pytestmark = pytest.mark.slow

MODEL_NAME = "ltx-lora-neon-shapes"


def _materialize_command(home: Home, dataset: Path) -> list[str]:
    cli = [sys.executable, "-m", "ltx_pipelines.cli", "--home", str(home.root)]
    return [*cli, "materialize", "--dataset", str(dataset), "--json"]


def _files(folder: Path, pattern: str = "*") -> set[Path]:
    return {p for p in folder.rglob(pattern) if p.is_file()} if folder.exists() else set()


def _kill_when(command: list[str], appeared: Callable[[], bool], rng: random.Random, log: Path) -> bool:
    """Run ``command``; SIGKILL it a random few milliseconds after ``appeared()`` turns true. True if killed."""
    with log.open("a") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        while process.poll() is None and not appeared():
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.02))
        if process.poll() is not None:
            return False
        process.send_signal(signal.SIGKILL)
        process.wait()
        return True


def _assert_no_half_files(home: Home) -> None:
    """Every file under its final name is complete: safetensors load, JSON parses."""
    for path in _files(home.root / "cache", "*.safetensors") | _files(home.runs, "*.safetensors"):
        if not path.name.startswith("."):
            load_tensors(path)
    for path in _files(home.root / "manifests", "*.json") | _files(home.runs, "*.json"):
        if not path.name.startswith("."):
            json.loads(path.read_text())


def test_kill_9_in_every_stage_then_rerun_gives_the_uninterrupted_adapter(
    home: Home, dataset: Path, tmp_path: Path, model_store: Path
) -> None:
    reference_home = Home(tmp_path / "reference").ensure()
    reference_home.models.rmdir()
    reference_home.models.symlink_to(model_store, target_is_directory=True)
    reference = materialize_dataset(dataset, reference_home)
    assert reference.success, reference.failures
    expected = load_tensors({a.asset: a.metadata for a in reference.materialized}["lora_adapter"]["adapter"])

    rng = random.Random(9)
    command = _materialize_command(home, dataset)
    log = tmp_path / "killed-runs.log"
    stages = {
        "frame extraction": home.cache("frames"),
        "latent encoding": home.cache("latents"),
        "training": home.runs,
        "registration": home.mlflow_artifacts,
    }
    killed = []
    for stage, folder in stages.items():
        before = _files(folder)
        if _kill_when(command, lambda folder=folder, before=before: bool(_files(folder) - before), rng, log):
            killed.append(stage)
        _assert_no_half_files(home)
    assert killed == list(stages), log.read_text()[-3000:]

    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    outcome = json.loads(done.stdout[done.stdout.index("{") :])
    metadata = outcome["materialized"]
    weights = load_tensors(metadata["lora_adapter"]["adapter"])  # the same adapter as the uninterrupted run:
    assert weights.keys() == expected.keys() and all(torch.equal(weights[k], expected[k]) for k in weights)
    assert metadata["latents"]["videos_encoded"] == 0  # everything encoded before the kills was reused
    assert metadata["lora_adapter"]["status"] == "cached"  # training finished before the registration kill
    _assert_no_half_files(home)
    registry = RegistryClient(home.mlflow_tracking_uri)
    versions = registry.client.search_model_versions(f"name = '{MODEL_NAME}'")
    assert [str(v.version) for v in versions] == ["1"]  # the killed registration left no duplicate
    lineage = versions[0].tags[LINEAGE_TAG]
    runs = registry.runs_for(lineage)
    assert [r.info.status for r in runs] == ["FINISHED"]  # the killed attempt's run was cleaned up


def test_disk_full_during_a_cache_write_fails_clearly_and_the_next_run_recovers(
    home: Home, dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ltx_pipelines import tensors

    real_save = tensors.save_file
    writes = {"count": 0}

    def fill_the_disk(data, filename, metadata=None):  # the third cache write hits a full disk halfway through
        writes["count"] += 1
        if writes["count"] < 3:
            return real_save(data, filename, metadata=metadata)
        Path(filename).write_bytes(b"\0" * 100)  # what made it to disk before the device filled up
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), filename)

    monkeypatch.setattr(tensors, "save_file", fill_the_disk)
    failed = materialize_dataset(dataset, home)
    assert not failed.success
    assert len(failed.failures) == 1 and "No space left on device" in failed.failures[0], failed.failures
    assert str(home.cache("frames")) in failed.failures[0]  # the error names the cache file it could not write
    cached = _files(home.cache("latents")) | _files(home.cache("text"))
    assert all(not p.name.endswith(".tmp") for p in cached)  # the temp file of the failed write is gone
    for path in cached:
        load_tensors(path)  # and every entry under its final name is complete

    monkeypatch.setattr(tensors, "save_file", real_save)
    recovered = materialize_dataset(dataset, home)
    assert recovered.success, recovered.failures


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_disk_full_on_a_real_small_filesystem(home: Home, dataset: Path, tmp_path: Path) -> None:
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)]).returncode != 0:
        pytest.skip("this machine does not allow mounting a tmpfs")
    latents = home.cache("latents")
    shutil.rmtree(latents, ignore_errors=True)
    latents.parent.mkdir(parents=True, exist_ok=True)
    latents.symlink_to(mount, target_is_directory=True)
    try:
        failed = materialize_dataset(dataset, home)
        assert not failed.success
        assert any("No space left on device" in f for f in failed.failures), failed.failures
        for path in _files(mount):
            assert not path.name.endswith(".tmp")
            load_tensors(path)
    finally:
        subprocess.run(["umount", str(mount)], check=True)
    latents.unlink()
    recovered = materialize_dataset(dataset, home)
    assert recovered.success, recovered.failures


def test_two_materializations_of_one_partition_at_once(home: Home, dataset: Path, tmp_path: Path) -> None:
    command = _materialize_command(home, dataset)
    logs = [tmp_path / f"run-{i}.json" for i in range(2)]
    processes = [
        subprocess.Popen(command, stdout=log.open("w"), stderr=log.with_suffix(".log").open("w")) for log in logs
    ]
    for process in processes:
        process.wait(timeout=600)
    assert [p.returncode for p in processes] == [0, 0], [log.read_text()[-2000:] for log in logs]
    outcomes = [json.loads((text := log.read_text())[text.index("{") :])["materialized"] for log in logs]
    assert outcomes[0]["lora_adapter"]["adapter_sha256"] == outcomes[1]["lora_adapter"]["adapter_sha256"]
    assert sorted(o["lora_adapter"]["status"] for o in outcomes) == ["cached", "trained"]  # one trained, one waited
    assert sorted(o["registered_adapter"]["status"] for o in outcomes) == ["existing", "registered"]
    assert outcomes[0]["latents"]["samples"] == outcomes[1]["latents"]["samples"]
    _assert_no_half_files(home)
    registry = RegistryClient(home.mlflow_tracking_uri)
    assert len(registry.client.search_model_versions(f"name = '{MODEL_NAME}'")) == 1


def test_registry_database_restart_mid_registration_is_retried_without_duplicates(
    home: Home, dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.mlflow_server import mlflow_server
    from tests.services import require_postgres

    admin = require_postgres()
    with mlflow_server(tmp_path) as server:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        database = server.backend_uri.rsplit("/", 1)[-1]

        def restart_database() -> None:  # what the server sees of a restart: connections dropped, then refused
            with admin.cursor() as cursor:
                cursor.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,))
            time.sleep(4)
            with admin.cursor() as cursor:
                cursor.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')

        from ltx_pipelines.registry import client as registry_client

        real_register = registry_client.RegistryClient.register

        def register_during_restart(self, *args, **kwargs):
            outage = threading.Thread(target=restart_database)
            outage.start()
            time.sleep(0.5)
            try:
                return real_register(self, *args, **kwargs)
            finally:
                outage.join()

        monkeypatch.setattr(registry_client.RegistryClient, "register", register_during_restart)
        with caplog.at_level(logging.WARNING, logger=registry_client.__name__):
            outcome = materialize_dataset(dataset, home)
        assert outcome.success, outcome.failures
        retries = [r.getMessage() for r in caplog.records if r.name == registry_client.__name__]
        assert retries and all(f"MLflow at {server.url} unavailable" in m for m in retries)  # it was retried
        monkeypatch.setattr(registry_client.RegistryClient, "register", real_register)
        again = materialize_dataset(dataset, home)
        assert again.success, again.failures
        registered = {a.asset: a.metadata for a in again.materialized}["registered_adapter"]
        assert registered["status"] == "existing"
        versions = RegistryClient(server.url).client.search_model_versions(f"name = '{MODEL_NAME}'")
        assert [str(v.version) for v in versions] == ["1"]
    admin.close()
