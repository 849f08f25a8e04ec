#!/usr/bin/env bash
# MLflow tracking server + model registry for the Postgres tier (docs/deploy.md).
#
#   MLFLOW_BACKEND_STORE_URI      required: postgresql+psycopg2://mlflow:secret@db-host:5432/mlflow
#                                 (runs + registry; SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3)
#   MLFLOW_ARTIFACTS_DESTINATION  required: where artifacts live: /srv/mlartifacts, s3://bucket/mlflow, gs://...
#                                 (s3 needs boto3, gs google-cloud-storage, on the server only)
#   MLFLOW_HOST (0.0.0.0), MLFLOW_PORT (5000), MLFLOW_WORKERS (2)
#   MLFLOW_ALLOWED_HOSTS          the Host names clients use, e.g. mlflow.internal,mlflow.internal:5000
#                                 (default: localhost and private IPs)
#   MLFLOW_SERVER_ENABLE_JOB_EXECUTION  (false here) MLflow's GenAI job runners, which ltx-pipelines does not use
#
# Artifacts are proxied (--serve-artifacts): clients upload and download through this server at
# mlflow-artifacts:/..., so the Dagster workers need only MLFLOW_TRACKING_URI=http://this-host:port and no
# bucket credentials.
set -euo pipefail

: "${MLFLOW_BACKEND_STORE_URI:?set MLFLOW_BACKEND_STORE_URI, e.g. postgresql+psycopg2://mlflow@db-host:5432/mlflow}"
: "${MLFLOW_ARTIFACTS_DESTINATION:?set MLFLOW_ARTIFACTS_DESTINATION, e.g. /srv/mlartifacts or s3://bucket/mlflow}"

export MLFLOW_SERVER_ENABLE_JOB_EXECUTION="${MLFLOW_SERVER_ENABLE_JOB_EXECUTION:-false}"

args=(
  --backend-store-uri "$MLFLOW_BACKEND_STORE_URI"
  --serve-artifacts
  --artifacts-destination "$MLFLOW_ARTIFACTS_DESTINATION"
  --host "${MLFLOW_HOST:-0.0.0.0}"
  --port "${MLFLOW_PORT:-5000}"
  --workers "${MLFLOW_WORKERS:-2}"
)
if [[ -n "${MLFLOW_ALLOWED_HOSTS:-}" ]]; then
  args+=(--allowed-hosts "$MLFLOW_ALLOWED_HOSTS")
fi
exec mlflow server "${args[@]}"
