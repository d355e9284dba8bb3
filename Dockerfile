# syntax=docker/dockerfile:1
#
# Mediamon image: the official Apache Airflow "slim" image plus the mediamon package, with exactly
# the dependency versions in uv.lock, and the FAB auth manager. Used by every Airflow service in
# docker-compose.yaml, and by its `samples` service.
#
#   docker compose build          (or: docker build -t mediamon-airflow:latest .)

# uv version that writes our uv.lock; keep it in step with the one the lock was made with.
ARG UV_VERSION=0.13.9

# ---------------------------------------------------------------------------------------------
# Stage 1: turn uv.lock into a plain requirements file.
# The Airflow image installs with pip into its own environment, so we hand pip the locked pins
# instead of running `uv sync` (which would build a second, separate virtualenv). Doing this in a
# throwaway stage keeps uv out of the final image.
# ---------------------------------------------------------------------------------------------
FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

FROM python:3.11-slim-bookworm AS requirements
COPY --from=uv /uv /usr/local/bin/uv
WORKDIR /src
# Only the two files the export reads, so code changes do not invalidate this layer.
COPY pyproject.toml uv.lock ./
# --frozen: use the lock as is, fail rather than re-resolve.
# --no-dev: pytest, ruff, mypy and friends do not belong in the runtime image.
# --no-emit-project: mediamon itself is installed from source in the final stage.
# --no-hashes: the final pip call adds the apache-airflow pin on the command line, which pip's
#   hash-checking mode would reject.
RUN uv export --frozen --no-dev --no-hashes --no-emit-project --output-file /requirements.txt

# ---------------------------------------------------------------------------------------------
# Stage 2: the runtime image.
# The Airflow version here must equal the apache-airflow pin in pyproject.toml (tests/test_compose.py
# checks it). Python 3.11 matches requires-python in pyproject.toml.
# The slim image holds Airflow core only. The regular image also carries ~30 providers (amazon,
# google, ...) with their own pins; installing our lock over them would move packages they need
# (aiobotocore, for one) without pip saying more than a warning. With slim, the image holds
# exactly uv.lock plus what AIRFLOW_IMAGE_EXTRAS names, and that set is resolved as a whole.
# ---------------------------------------------------------------------------------------------
FROM apache/airflow:slim-3.3.2-python3.11

# What the image adds to uv.lock, pinned. The FAB auth manager (users and roles in the metadata
# DB) is not a dependency of the pipeline, so it is not in the lock; tests/test_compose.py resolves
# the lock's export together with this line against PyPI, so a conflict fails in CI, not in a
# build. 3.10.2 is the version that resolution picks next to uv.lock (python-dateutil 2.9.0.post0).
ARG AIRFLOW_IMAGE_EXTRAS="apache-airflow-providers-fab==3.10.2"

# The official image expects Python packages to be installed as the `airflow` user, into the
# environment the entrypoint and all Airflow commands use (never as root).
USER airflow

# Locked third-party dependencies first: this layer is the slow one and changes only when
# uv.lock does. Naming "apache-airflow==${AIRFLOW_VERSION}" (set by the base image) again is what
# the Airflow docs recommend: it stops pip from moving Airflow off the image's version while
# resolving. The extras go into the same pip call, so the whole set is resolved at once and a
# conflict stops the build.
COPY --from=requirements /requirements.txt /tmp/mediamon-requirements.txt
RUN pip install --no-cache-dir -r /tmp/mediamon-requirements.txt "apache-airflow==${AIRFLOW_VERSION}" ${AIRFLOW_IMAGE_EXTRAS}

# Our code. README.md is copied because pyproject.toml names it as the package readme and the
# build backend (hatchling) refuses to build without it. sql/ holds the Alembic migrations and the
# analyst views; it is not inside the pipeline package.
COPY --chown=airflow:0 pyproject.toml uv.lock README.md /opt/mediamon/
COPY --chown=airflow:0 pipeline/ /opt/mediamon/pipeline/
COPY --chown=airflow:0 sql/ /opt/mediamon/sql/

# --no-deps: every dependency is already installed from the lock above; this must not pull in
# anything unlocked. --editable: the package is imported from /opt/mediamon, so sql/ stays next
# to pipeline/ exactly as in a source checkout and code that finds migrations or views relative
# to the package keeps working. Also installs the `mediamon` command used by airflow-init.
RUN pip install --no-cache-dir --no-deps --editable /opt/mediamon
