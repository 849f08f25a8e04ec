"""The MLflow registry, against a SQLite store and a real ``mlflow server`` on PostgreSQL: idempotent
registration, the promotion gate both ways, rollback, lookups, the pyfunc generator, and an outage."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from assets.registry import _apply_gate
from ltx_pipelines.cli import main as cli
from ltx_pipelines.config import load_recipe
from ltx_pipelines.evaluation.promotion import decide
from ltx_pipelines.evaluation.report import EvaluationReport, SetScores
from ltx_pipelines.home import Home
from ltx_pipelines.media.probe import probe_video
from ltx_pipelines.registry import (
    CHAMPION,
    Lineage,
    RegistryClient,
    RegistryError,
    TrainingRecord,
    log_training_run,
)
from ltx_pipelines.training.loop import TrainingJob, train_lora
from tests.helpers import prepare_samples
from tests.mlflow_server import mlflow_server

pytestmark = pytest.mark.slow
NAME = "ltx-lora-test"


@pytest.fixture(scope="module")
def adapter(tmp_path_factory, model_store: Path, neon_clips: Path) -> dict:
    """A small adapter trained once for the module, with what registration needs."""
    root = tmp_path_factory.mktemp("registry-adapter")
    home = Home(root / "home").ensure()
    home.models.rmdir()
    home.models.symlink_to(model_store, target_is_directory=True)
    dataset = root / "neon"
    shutil.copytree(neon_clips, dataset)
    import yaml

    from tests.conftest import FAST_RECIPE

    (dataset / "ltx.yaml").write_text(yaml.safe_dump(FAST_RECIPE))
    model, samples = prepare_samples(home, dataset)
    recipe = load_recipe(dataset)
    training = recipe.training.model_copy(update={"steps": 20})
    job = TrainingJob.plan(
        home.runs,
        "neon",
        [s for s in samples if s.split == "train"],
        model,
        recipe.lora,
        training,
        24.0,
        torch.device("cpu"),
    )
    result = train_lora(job)
    return {"home": home, "model": model, "result": result, "job": job}


@pytest.fixture(scope="module", params=["sqlite", "server"])
def registry(request, tmp_path_factory) -> Iterator[tuple[RegistryClient, object]]:
    root = tmp_path_factory.mktemp(f"registry-{request.param}")
    if request.param == "sqlite":
        yield RegistryClient(f"sqlite:///{root}/mlflow.db", artifact_location=(root / "artifacts").as_uri()), None
        return
    with mlflow_server(root) as server:
        yield RegistryClient(server.url, backoff_seconds=0.2), server


def _lineage(adapter: dict, key: str) -> Lineage:
    model = adapter["model"]
    return Lineage(
        key=key,
        dataset="neon",
        dataset_version="dv-1",
        base_model=model.model_id,
        base_model_revision=model.revision,
        code_version="test",
        training_config_hash="cfg",
        adapter_sha256=adapter["result"].adapter.sha256,
        dagster_run_id="dagster-run-1",
    )


def _record(adapter: dict) -> TrainingRecord:
    result, job = adapter["result"], adapter["job"]
    return TrainingRecord(
        params={"training.steps": job.training.steps},
        history=result.history,
        metrics={"eval/adapter_loss": 0.5},
        artifacts={"plots": result.loss_curve},
        adapter_dir=result.adapter.directory,
        recipe={
            "base_model": job.model.model_id,
            "base_model_path": job.model.path,
            "base_model_revision": job.model.revision,
            "generation": {"width": 32, "height": 32, "frames": 9, "frame_rate": 24.0, "steps": 2},
        },
    )


def _register(registry: RegistryClient, adapter: dict, key: str):
    lineage = _lineage(adapter, key)
    run_id = log_training_run(registry, lineage, _record(adapter), run_name=key)
    return registry.register(NAME, run_id, lineage), run_id


def _evaluation(adapter_loss: float, champion: str | None, champion_loss: float | None, prior: float = 1.0) -> dict:
    report = EvaluationReport(
        adapter_sha256="x",
        heldout=SetScores(clips=["a"], base=1.0, adapter=adapter_loss, champion=champion_loss, per_sigma={}),
        prior=SetScores(clips=["b"], base=1.0, adapter=prior, per_sigma={}),
        champion_version=champion,
        spec={},
    )
    return {"decision": decide(report, prior_tolerance=0.05).to_dict(), "champion_version": champion}


def test_registering_twice_gives_one_version_with_its_lineage(registry, adapter) -> None:
    client, _ = registry
    first, run_id = _register(client, adapter, "lineage-1")
    again, again_run = _register(client, adapter, "lineage-1")  # a retried or re-executed registration
    assert (first.version, first.created, again.version, again.created) == ("1", True, "1", False)
    assert again_run == run_id and len(client.runs_for("lineage-1")) == 1
    tags = client.get_version(NAME, "1").tags
    assert tags["ltx.dataset"] == "neon" and tags["ltx.dataset_version"] == "dv-1"
    assert tags["ltx.base_model"] == "tiny-ltx-video" and tags["ltx.base_model_revision"] == "preset-v1"
    assert tags["ltx.dagster_run_id"] == "dagster-run-1" and tags["ltx.mlflow_run_id"] == run_id
    assert tags["ltx.adapter_sha256"] == adapter["result"].adapter.sha256
    assert client.get_version(NAME, "1").aliases == ["candidate"]
    metrics = client.client.get_metric_history(run_id, "train/loss")
    assert [m.step for m in metrics] == list(range(1, 21))


def test_promotion_gate_both_ways_then_rollback(registry, adapter) -> None:
    client, _ = registry
    v1, _ = _register(client, adapter, "lineage-1")
    assert _apply_gate(client, NAME, v1.version, _evaluation(0.6, None, None), True).startswith("promoted")
    assert client.alias_version(NAME, CHAMPION) == "1"

    worse, _ = _register(client, adapter, "lineage-2")
    outcome = _apply_gate(client, NAME, worse.version, _evaluation(0.7, "1", 0.6), True)
    assert outcome == "not promoted: held-out loss 0.7000 does not beat champion v1's 0.6000"
    assert client.alias_version(NAME, CHAMPION) == "1"
    assert client.get_version(NAME, worse.version).tags["ltx.promotion.decision"] == "not promoted"

    forgetful, _ = _register(client, adapter, "lineage-3")
    outcome = _apply_gate(client, NAME, forgetful.version, _evaluation(0.5, "1", 0.6, prior=1.2), True)
    assert "prior-set loss rose +20.0% over the base (tolerance 5.0%)" in outcome
    assert client.alias_version(NAME, CHAMPION) == "1"

    better, _ = _register(client, adapter, "lineage-4")
    outcome = _apply_gate(client, NAME, better.version, _evaluation(0.5, "1", 0.6), True)
    assert outcome == "promoted to champion: held-out loss 0.5000 beats champion v1's 0.6000"
    assert client.alias_version(NAME, CHAMPION) == better.version == "4"
    assert client.get_version(NAME, "4").tags["ltx.promotion.reason"].startswith("held-out loss 0.5000 beats")

    stale, _ = _register(client, adapter, "lineage-5")  # evaluated against v1, but v4 is champion by now
    assert "re-run adapter_evaluation" in _apply_gate(client, NAME, stale.version, _evaluation(0.4, "1", 0.6), True)
    assert client.alias_version(NAME, CHAMPION) == "4"

    assert client.rollback(NAME).version == "1"
    assert client.alias_version(NAME, CHAMPION) == "1"
    assert client.get_version(NAME, "4").tags["ltx.promotion.decision"] == "rolled back"
    with pytest.raises(RegistryError, match="no earlier champion"):
        client.rollback(NAME)


def test_champion_loads_with_pyfunc_and_generates_a_video(registry, adapter, tmp_path) -> None:
    client, _ = registry
    version, _ = _register(client, adapter, "lineage-1")
    client.promote(NAME, version.version, "test")
    generator = client.load_generator(f"models:/{NAME}@champion")
    out = generator.predict(["a red circle moving from left to right"], params={"output_dir": str(tmp_path)})
    info = probe_video(out["video_path"][0])
    assert (info.width, info.height, info.frame_count) == (32, 32, 9)
    pulled = client.pull(f"{NAME}@champion", tmp_path / "pulled")
    assert (pulled / "pytorch_lora_weights.safetensors").read_bytes() == Path(
        adapter["result"].adapter.diffusers_file
    ).read_bytes()


def test_cli_lookups_promote_rollback_and_generate(registry, adapter, tmp_path, capsys) -> None:
    client, _ = registry
    for key in ("lineage-1", "lineage-2"):
        _register(client, adapter, key)
    uri = ["--tracking-uri", client.tracking_uri]
    assert cli(["registry", "promote", NAME, "1", *uri]) == 0
    assert cli(["registry", "promote", NAME, "2", "--reason", "by hand", *uri]) == 0
    assert cli(["registry", "rollback", NAME, "--json", *uri]) == 0
    assert '"version": "1"' in capsys.readouterr().out
    assert cli(["registry", "show", f"{NAME}@champion", "--json", *uri]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["version"] == "1" and "champion" in shown["aliases"]
    out = tmp_path / "clip.mp4"
    assert (
        cli(
            [
                "generate",
                "--adapter",
                f"models:/{NAME}@champion",
                "--prompt",
                "a blue square",
                "--out",
                str(out),
                "--steps",
                "2",
                *uri,
            ]
        )
        == 0
    )
    assert probe_video(out).frame_count == 9


def test_outage_gives_a_clear_error_and_a_later_retry_completes(registry, adapter) -> None:
    client, server = registry
    if server is None:
        pytest.skip("an outage needs the server tier")
    server.stop()
    impatient = RegistryClient(server.url, retries=2, backoff_seconds=0.1)
    with pytest.raises(RegistryError, match=rf"MLflow at {server.url} unavailable after 3 attempts"):
        _register(impatient, adapter, "lineage-outage")
    assert Path(adapter["result"].adapter.diffusers_file).exists()  # nothing lost: the adapter stays on disk
    server.start()
    version, _ = _register(client, adapter, "lineage-outage")
    assert version.created and client.find_version(NAME, "lineage-outage").version == version.version
    assert len(client.runs_for("lineage-outage")) == 1
