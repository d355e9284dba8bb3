"""Data Docs on a real S3 API (moto's server on loopback), written by a gate worker and read by
another machine's Media Monitor (issue 17: no worker-local state)."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from pipeline.config import get_settings
from pipeline.quality import docs
from pipeline.quality.gate import run_gate
from pipeline.warehouse import get_engine
from tests.integration.test_archive_s3 import BUCKET, s3, s3_endpoint  # noqa: F401 (fixtures)
from tests.quality_checks import RUN, Warehouse, plant_row_defects


def test_gate_writes_its_data_docs_to_s3_and_another_home_serves_them(
    home: Path, tmp_path: Path, s3: dict[str, str], monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    monkeypatch.setenv("MEDIAMON_DQ_DOCS_URL", f"s3://{BUCKET}/dq_docs")
    monkeypatch.setenv("MEDIAMON_DQ_DOCS_OPTIONS", s3["options"])
    get_settings.cache_clear()
    engine = get_engine()
    plant_row_defects(Warehouse(engine))
    run_gate(engine, RUN, get_settings())

    runs = home / "dq_docs" / docs.RUNS_DIR
    assert not runs.exists() or not any(runs.iterdir()), "the gate worker kept its site"
    client = boto3.client("s3", endpoint_url=s3["endpoint"])
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    sites = {k.split("/")[2] for k in keys if k.startswith("dq_docs/runs/")}
    assert len(sites) == 1 and "dq_docs/index.html" in keys
    (site,) = sites
    assert f"dq_docs/runs/{site}/index.html" in keys
    assert any(k.startswith(f"dq_docs/runs/{site}/validations/") for k in keys)
    assert f"dq_docs/static/{docs.VENDOR_DIR}/jquery.min.js" in keys

    # The api-server: another home, the same store settings.
    monkeypatch.setenv("MEDIAMON_HOME", str(tmp_path / "api-server"))
    get_settings.cache_clear()
    found = docs.read_docs_file("")
    assert found is not None and f"runs/{site}/index.html".encode() in found[1]
    page = docs.read_docs_file(f"runs/{site}/")
    assert page is not None and page[0] == "index.html" and b"<html" in page[1].lower()
    assert docs.read_docs_file(f"runs/{site}/../../../etc/passwd") is None
    assert docs.read_docs_file("runs/20200101T000000000000Z_gone/index.html") is None
