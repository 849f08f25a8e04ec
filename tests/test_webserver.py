"""The web UI end to end: dagster-webserver on a free port, a partitioned run launched through its GraphQL API,
the asset's metadata read back, and a screenshot of the asset graph (headless Chromium) for a person to look at."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ltx_pipelines.catalog import register_dataset
from ltx_pipelines.home import Home

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
LOCATION = "ltx_pipelines"
INSTANCE = "run_coordinator:\n  module: dagster._core.run_coordinator\n  class: DefaultRunCoordinator\n"

LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""
RUN_STATUS = "query Run($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
CAPTIONS = """
query Captions($partition: String!) {
  assetOrError(assetKey: {path: ["captions"]}) {
    ... on Asset {
      assetMaterializations(partitions: [$partition]) {
        runId
        metadataEntries {
          label
          ... on IntMetadataEntry { intValue }
          ... on TextMetadataEntry { text }
          ... on TableMetadataEntry { table { records } }
        }
      }
    }
  }
}"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _graphql(url: str, query: str, variables: dict) -> dict:
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture
def webserver(home: Home, tmp_path: Path) -> Iterator[str]:
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(INSTANCE)  # launch at once: no daemon in this test
    port = _free_port()
    log = (tmp_path / "webserver.log").open("w")
    command = [str(Path(sys.executable).parent / "dagster-webserver"), "-w", "workspace.yaml"]
    process = subprocess.Popen(
        [*command, "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env={**os.environ, "DAGSTER_HOME": str(dagster_home), "LTX_PIPELINES_HOME": str(home.root)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "webserver.log").read_text()[-3000:]
            try:
                data = _graphql(url, "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }", {})
                if [e["loadStatus"] for e in data["workspaceOrError"]["locationEntries"]] == ["LOADED"]:
                    break
            except OSError:
                pass
            time.sleep(1)
        else:
            pytest.fail("dagster-webserver did not load the code location in 180 s")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_run_launched_through_graphql_materializes_and_reports_metadata(
    webserver: str, home: Home, dataset: Path, tmp_path: Path
) -> None:
    partition = register_dataset(home, dataset)
    # Adding the partition through the API, as the UI's "add partition" dialog does
    added = _graphql(
        webserver,
        "mutation Add($selector: RepositorySelector!, $name: String!, $key: String!) { "
        "addDynamicPartition(repositorySelector: $selector, partitionsDefName: $name, partitionKey: $key) "
        "{ __typename } }",
        {
            "selector": {"repositoryLocationName": LOCATION, "repositoryName": "__repository__"},
            "name": "datasets",
            "key": partition,
        },
    )
    assert added["addDynamicPartition"]["__typename"] == "AddDynamicPartitionSuccess"
    params = {
        "selector": {
            "repositoryLocationName": LOCATION,
            "repositoryName": "__repository__",
            "jobName": "prepare_dataset",
        },
        "runConfigData": {},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]},
    }
    launched = _graphql(webserver, LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]

    deadline = time.monotonic() + 300
    status = "STARTING"
    while time.monotonic() < deadline and status not in ("SUCCESS", "FAILURE", "CANCELED"):
        time.sleep(2)
        status = _graphql(webserver, RUN_STATUS, {"id": run_id})["runOrError"]["status"]
    assert status == "SUCCESS"

    materializations = _graphql(webserver, CAPTIONS, {"partition": partition})["assetOrError"]["assetMaterializations"]
    assert [m["runId"] for m in materializations] == [run_id]
    entries = {e["label"]: e for e in materializations[0]["metadataEntries"]}
    assert entries["captioned"]["intValue"] == 10 and entries["quarantined"]["intValue"] == 0
    rows = [json.loads(record) for record in entries["clip_table"]["table"]["records"]]
    assert {row["caption_source"] for row in rows} == {"given"} and len(rows) == 10

    _graphql(webserver, "mutation { setNuxSeen }", {})  # as clicking "Skip" on the first-visit dialog does
    screenshot = _screenshot(f"{webserver}/locations/{LOCATION}/asset-groups/dataset", tmp_path)
    if screenshot is None:
        pytest.skip("no chromium on this machine: the run and its metadata were checked, the screenshot was not")
    pixels = np.asarray(Image.open(screenshot).convert("L"), dtype=np.float32)
    assert pixels.shape == (1000, 1600) and pixels.std() > 5  # something was drawn, not a blank page


def _screenshot(url: str, tmp_path: Path) -> Path | None:
    """The page at ``url`` rendered by headless Chromium into test-artifacts/asset_graph.png (None: no browser)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        return None
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "asset_graph.png"
    subprocess.run(
        [
            browser,
            *("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1600,1000"),
            *("--virtual-time-budget=20000", f"--user-data-dir={tmp_path / 'chromium'}", f"--screenshot={target}"),
            url,
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    return target
