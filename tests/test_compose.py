"""Static checks of the Docker deployment: docker-compose.yaml, .env.example, Dockerfile, docs.

No Docker engine and no network: the compose file is validated against the Compose
specification schema that check-jsonschema ships with itself (``--builtin-schema``).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
PYPROJECT = ROOT / "pyproject.toml"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
README = ROOT / "README.md"

REQUIRED_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
    "postgres",
    "warehouse-db",
    "redis",
}

# ${VAR}, ${VAR:-default}, ${VAR:?message} ...; "$${VAR}" is an escaped literal for the shell
# inside the container, not something compose reads.
COMPOSE_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")
# A backticked token shaped like a compose service name.
SERVICE_LIKE = re.compile(r"(?:postgres|redis|warehouse-db|airflow-[a-z0-9][a-z0-9_.-]*)")
FENCED_BLOCK = re.compile(r"^(```|~~~).*?^\1", re.DOTALL | re.MULTILINE)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
SERVICE_BULLET = re.compile(r"^\s*[-*] `([^`\n]+)`:", re.MULTILINE)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yaml must be a mapping"
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services = compose.get("services")
    assert isinstance(services, dict), "docker-compose.yaml has no services mapping"
    assert services, "docker-compose.yaml has no services"
    return services


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict (compose allows a mapping or a list of KEY=VALUE)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def _image(service: dict[str, Any]) -> str:
    return str(service.get("image", ""))


def test_compose_file_matches_compose_spec_schema() -> None:
    # The executable next to the running interpreter, so the test uses the venv's copy.
    exe = Path(sys.executable).parent / "check-jsonschema"
    assert exe.exists(), f"check-jsonschema not installed next to {sys.executable}"
    result = subprocess.run(
        [str(exe), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    print(output)
    assert result.returncode == 0, f"compose-spec validation failed:\n{output}"


def test_required_services_exist(services: dict[str, dict[str, Any]]) -> None:
    missing = REQUIRED_SERVICES - services.keys()
    assert not missing, f"services missing from docker-compose.yaml: {sorted(missing)}"


def test_warehouse_is_separate_from_metadata_db(services: dict[str, dict[str, Any]]) -> None:
    metadata, warehouse = services["postgres"], services["warehouse-db"]
    assert _image(warehouse).startswith("postgres:16"), "warehouse-db must be PostgreSQL 16"
    assert "healthcheck" in warehouse, "warehouse-db needs a healthcheck for depends_on"

    def data_volumes(service: dict[str, Any]) -> set[str]:
        return {str(v).split(":", 1)[0] for v in service.get("volumes", [])}

    assert data_volumes(warehouse), "warehouse-db must keep its data in a volume"
    assert not data_volumes(metadata) & data_volumes(warehouse), "the two DBs share a volume"

    scheduler_env = _environment(services["airflow-scheduler"])
    metadata_url = scheduler_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    warehouse_url = scheduler_env["MEDIAMON_WAREHOUSE_URL"]
    assert "@postgres/" in metadata_url
    assert "warehouse-db" not in metadata_url
    assert "@warehouse-db:" in warehouse_url
    assert "@postgres" not in warehouse_url
    assert warehouse_url.startswith("postgresql+psycopg://")


def test_airflow_services_share_celery_settings(services: dict[str, dict[str, Any]]) -> None:
    airflow_services = [name for name in services if name.startswith("airflow-")]
    assert airflow_services
    for name in airflow_services:
        env = _environment(services[name])
        assert env.get("AIRFLOW__CORE__EXECUTOR") == "CeleryExecutor", name
        assert env.get("AIRFLOW_CONN_MEDIAMON_WAREHOUSE"), f"{name}: warehouse connection unset"
        assert "warehouse-db" in env["AIRFLOW_CONN_MEDIAMON_WAREHOUSE"], name
        assert env.get("AIRFLOW__CORE__EXECUTION_API_SERVER_URL") == (
            "http://airflow-apiserver:8080/execution/"
        ), name


def _service_like_tokens(markdown: str) -> set[str]:
    text = FENCED_BLOCK.sub("", markdown)
    return {
        token.strip()
        for token in INLINE_CODE.findall(text)
        if SERVICE_LIKE.fullmatch(token.strip())
    }


def _docs_to_check() -> list[Path]:
    # docs/deploy.md always (a missing file is a failure); README.md once it exists.
    return [DEPLOY_DOC] + ([README] if README.exists() else [])


@pytest.mark.parametrize("doc", _docs_to_check(), ids=lambda p: str(p.relative_to(ROOT)))
def test_services_named_in_docs_exist(doc: Path, services: dict[str, dict[str, Any]]) -> None:
    tokens = _service_like_tokens(doc.read_text(encoding="utf-8"))
    unknown = sorted(tokens - services.keys())
    assert not unknown, f"{doc.name} names services not in docker-compose.yaml: {unknown}"


def test_deploy_doc_describes_every_service(services: dict[str, dict[str, Any]]) -> None:
    # Each service gets its own bullet: "- `airflow-scheduler`: what it does".
    described = set(SERVICE_BULLET.findall(DEPLOY_DOC.read_text(encoding="utf-8")))
    missing = sorted(services.keys() - described)
    assert not missing, f"docs/deploy.md has no '- `service`: ...' bullet for: {missing}"


def _strings(node: Any) -> list[str]:
    """Every string in a loaded YAML document: what compose interpolates (comments are not)."""
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in _strings(key) + _strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return [node] if isinstance(node, str) else []


def test_every_compose_variable_is_in_env_example(compose: dict[str, Any]) -> None:
    used = {name for text in _strings(compose) for name in COMPOSE_VARIABLE.findall(text)}
    assert used, "expected docker-compose.yaml to read settings from .env"
    documented = {
        line.split("=", 1)[0].strip()
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    missing = sorted(used - documented)
    assert not missing, f"variables read by docker-compose.yaml missing in .env.example: {missing}"


def test_dockerfile_airflow_version_matches_pyproject_pin() -> None:
    pyproject = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    pins = [
        dep.split("==", 1)[1].strip()
        for dep in pyproject["dependencies"]
        if re.fullmatch(r"apache-airflow\s*==\s*\S+", dep)
    ]
    assert len(pins) == 1, "pyproject.toml must pin apache-airflow==X.Y.Z exactly once"

    images = re.findall(
        r"^FROM\s+(?:--\S+\s+)?apache/airflow:(\d+\.\d+\.\d+)-python(\d+\.\d+)\b",
        DOCKERFILE.read_text(encoding="utf-8"),
        flags=re.MULTILINE,
    )
    assert len(images) == 1, "Dockerfile must have exactly one FROM apache/airflow:X.Y.Z-pythonA.B"
    airflow_version, python_version = images[0]
    assert airflow_version == pins[0], (
        f"Dockerfile builds on Airflow {airflow_version}, pyproject.toml pins {pins[0]}"
    )
    requires_python = SpecifierSet(pyproject["requires-python"])
    assert requires_python.contains(f"{python_version}.0"), (
        f"image Python {python_version} outside requires-python {requires_python}"
    )
