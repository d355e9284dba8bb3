"""Static checks of the Docker deployment: docker-compose.yaml, .env.example, Dockerfile, docs.

No Docker engine and no network: the compose file is validated against the Compose
specification schema that check-jsonschema ships with itself (``--builtin-schema``).
"""

from __future__ import annotations

import re
import shutil
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
    "minio",
    "samples",
}

# ${VAR}, ${VAR:-default}, ${VAR:?message} ...; "$${VAR}" is an escaped literal for the shell
# inside the container, not something compose reads.
COMPOSE_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")
# A backticked token shaped like a compose service name.
SERVICE_LIKE = re.compile(
    r"(?:postgres|redis|warehouse-db|minio|samples|airflow-[a-z0-9][a-z0-9_.-]*)"
)
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
    warehouse_url = scheduler_env["AIRFLOW_CONN_MEDIAMON_WAREHOUSE"]
    assert "@postgres/" in metadata_url
    assert "warehouse-db" not in metadata_url
    assert "@warehouse-db:" in warehouse_url
    assert "@postgres" not in warehouse_url
    # One source for the warehouse: the connection. A second URL could point elsewhere.
    assert "MEDIAMON_WAREHOUSE_URL" not in scheduler_env


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
        r"^FROM\s+(?:--\S+\s+)?apache/airflow:(?:slim-)?(\d+\.\d+\.\d+)-python(\d+\.\d+)\b",
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


# --- No default credentials, loopback by default (issue 19) ---------------------------------------

# Settings whose value is a credential or a key: compose must have no default for any of them.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|(?:^|_)KEY$")
# Every secret the stack needs; each must stop compose when missing.
REQUIRED_SECRETS = {
    "_AIRFLOW_WWW_USER_PASSWORD",
    "AIRFLOW_DB_PASSWORD",
    "WAREHOUSE_DB_PASSWORD",
    "AIRFLOW_JWT_SECRET",
    "FERNET_KEY",
    "MINIO_ROOT_PASSWORD",
}
# The operator's values in these tests: distinct, so a resolved value can be traced to its source.
SUPPLIED = {name: f"supplied-{name.lower().strip('_')}" for name in REQUIRED_SECRETS}
# $$ (a literal $), ${NAME}, ${NAME<op><arg>} with op one of :- - :? ?, and $NAME.
INTERPOLATION = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)
# A URL's userinfo password, as it stands after interpolation.
URL_PASSWORD = re.compile(r"://[^/\s:@]*:(?P<password>[^@/\s]*)@")
LOOPBACK_BIND = re.compile(r"\$\{(?P<var>[A-Za-z_][A-Za-z0-9_]*):-127\.0\.0\.1\}")


class MissingVariableError(Exception):
    """What compose reports for ``${NAME:?message}`` with NAME unset or empty: it does not start."""


def _interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation of one string, as the Compose specification defines it."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        if op in (":?", "?") and (value is None or (op == ":?" and value == "")):
            raise MissingVariableError(f"required variable {name} is missing a value: {arg}")
        if op == ":-" and not value:
            return arg
        if op == "-" and value is None:
            return arg
        return value or ""

    return INTERPOLATION.sub(replace, text)


def _resolved(node: Any, env: dict[str, str]) -> Any:
    """The loaded compose file with every value interpolated (keys are not interpolated)."""
    if isinstance(node, dict):
        return {key: _resolved(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolved(item, env) for item in node]
    return _interpolate(node, env) if isinstance(node, str) else node


def _references(compose: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    """Every (variable, operator, argument) the compose file reads, one per occurrence."""
    return [
        (m.group("braced") or m.group("bare"), m.group("op"), m.group("arg") or "")
        for text in _strings(compose)
        for m in INTERPOLATION.finditer(text)
        if m.group(0) != "$$"
    ]


def _env_example_values() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            name, value = line.split("=", 1)
            values[name.strip()] = value.strip().strip("\"'")
    return values


def test_interpolation_helper_follows_the_compose_spec() -> None:
    # The checks below trust this helper, so it is held to the specification's examples.
    env = {"SET": "v", "EMPTY": ""}
    assert _interpolate("$$SET ${SET} $SET ${UNSET}", env) == "$SET v v "
    assert _interpolate("${EMPTY:-d} ${EMPTY-d} ${UNSET-d} ${SET:-d}", env) == "d  d v"
    assert _interpolate("${SET:?m} ${EMPTY?m}", env) == "v "
    for text in ("${EMPTY:?set it}", "${UNSET?set it}"):
        with pytest.raises(MissingVariableError, match="set it"):
            _interpolate(text, env)


def test_no_default_credentials_in_compose(compose: dict[str, Any]) -> None:
    # 1. No secret-like variable is read with a default, anywhere it is read.
    for name, op, arg in _references(compose):
        if SECRET_NAME.search(name):
            assert op in (":?", "?"), f"${{{name}{op or ''}{arg}}}: a credential with a default"
            assert arg, f"${{{name}{op}}} should say how to set it"
    secrets_read = {name for name, _, _ in _references(compose) if SECRET_NAME.search(name)}
    assert secrets_read == REQUIRED_SECRETS, secrets_read ^ REQUIRED_SECRETS

    # 2. Resolved with only the operator's secrets set, every credential in the file is one of
    # them: no password written into a URL, no literal POSTGRES_PASSWORD or key.
    resolved = _resolved(compose, SUPPLIED)
    for text in _strings(resolved):
        for m in URL_PASSWORD.finditer(text):
            password = m.group("password")
            # An empty password is no credential (the Redis broker has none and is not published).
            assert password in ("", *SUPPLIED.values()), f"literal password in {text!r}"
    for name, service in resolved["services"].items():
        for key, value in _environment(service).items():
            if SECRET_NAME.search(key) and not key.endswith("_CMD"):
                assert any(s in value for s in SUPPLIED.values()), (
                    f"{name}: {key}={value!r} does not come from the operator"
                )


@pytest.mark.parametrize("missing", sorted(REQUIRED_SECRETS))
@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_compose_refuses_to_start_without_each_secret(
    compose: dict[str, Any], missing: str, value: str | None
) -> None:
    # Empty is what `cp .env.example .env` gives; it must stop compose as surely as unset.
    env = {k: v for k, v in SUPPLIED.items() if k != missing}
    if value is not None:
        env[missing] = value
    with pytest.raises(MissingVariableError, match=rf"\b{missing}\b"):
        _resolved(compose, env)


def test_env_example_sets_no_credential() -> None:
    # Copying .env.example must not yield a working stack with well-known passwords.
    values = _env_example_values()
    assert values.keys() >= REQUIRED_SECRETS
    filled = {k: v for k, v in values.items() if SECRET_NAME.search(k) and v}
    assert not filled, f".env.example ships credentials: {filled}"


def _published(services: dict[str, dict[str, Any]]) -> list[tuple[str, Any]]:
    return [(name, port) for name, svc in services.items() for port in svc.get("ports", [])]


def test_every_published_port_binds_to_loopback_unless_overridden(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    published = _published(services)
    assert {"airflow-apiserver", "flower", "warehouse-db"} <= {name for name, _ in published}
    bind_vars: dict[str, str] = {}
    for name, port in published:
        # Short syntax "HOST_IP:HOST_PORT:CONTAINER_PORT", or long syntax with host_ip.
        host_ip = port.get("host_ip", "") if isinstance(port, dict) else str(port)
        m = LOOPBACK_BIND.match(host_ip)
        assert m and (isinstance(port, dict) or host_ip[m.end() :].startswith(":")), (
            f"{name}: port {port!r} is not bound to a ${{VAR:-127.0.0.1}} address"
        )
        bind_vars[name] = m.group("var")
    documented = _env_example_values()
    for name, var in bind_vars.items():
        assert documented.get(var) == "127.0.0.1", f"{var} ({name}) in .env.example"

    def host_ips(env: dict[str, str]) -> dict[str, str]:
        ips = {}
        for name, port in _published(_resolved(compose, env)["services"]):
            if isinstance(port, dict):
                ips[name] = port["host_ip"]
                continue
            # Resolved, a short-syntax entry must be HOST_IP:HOST_PORT:CONTAINER_PORT[/proto].
            m = re.fullmatch(r"(?P<ip>[0-9.]+):\d+(?:-\d+)?:\d+(?:-\d+)?(?:/\w+)?", port)
            assert m, f"{name}: {port!r} is not HOST_IP:HOST_PORT:CONTAINER_PORT"
            ips[name] = m.group("ip")
        return ips

    # Nothing set: loopback everywhere. The operator's variable moves only its own port.
    assert set(host_ips(SUPPLIED).values()) == {"127.0.0.1"}
    for name, var in bind_vars.items():
        moved = host_ips({**SUPPLIED, var: "0.0.0.0"})
        assert moved[name] == "0.0.0.0", (name, moved)
        others = {n for n, v in bind_vars.items() if v != var}
        assert all(moved[n] == "127.0.0.1" for n in others), (var, moved)


def test_dotenv_is_git_ignored(tmp_path: Path) -> None:
    # Our .gitignore judged by git itself, in a throwaway repository: the test does not depend
    # on being run from a clone (a release tarball has no .git).
    git = shutil.which("git")
    assert git is not None, "git is needed to judge .gitignore"
    subprocess.run([git, "init", "-q", str(tmp_path)], check=True)
    shutil.copy(ROOT / ".gitignore", tmp_path / ".gitignore")

    def ignored(path: str) -> bool:
        # --no-index: judge the ignore rules themselves, whether or not the file is tracked.
        result = subprocess.run(
            [git, "check-ignore", "--no-index", "-q", path], cwd=tmp_path, check=False
        )
        assert result.returncode in (0, 1), f"git check-ignore failed for {path}"
        return result.returncode == 0

    assert ignored(".env") and ignored(".env.local") and ignored("config/.env")
    assert not ignored(".env.example"), ".env.example is the template to commit"


# --- The stack works as shipped (issue 17) --------------------------------------------------------

AIRFLOW_SERVICES_PREFIX = "airflow-"
# MEDIAMON_* settings a production stack cannot do without: where state and the raw archive live,
# who is asking, and which connection is the warehouse (which holds the feed registry).
PRODUCTION_SETTINGS = {
    "MEDIAMON_HOME",
    "MEDIAMON_USER_AGENT",
    "MEDIAMON_AIRFLOW_CONN_ID",
    "MEDIAMON_RAW_ARCHIVE_URL",
    "MEDIAMON_RAW_ARCHIVE_OPTIONS",
    "MEDIAMON_DQ_DOCS_URL",
    "MEDIAMON_DQ_DOCS_OPTIONS",
}


def _airflow_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in services.items() if n.startswith(AIRFLOW_SERVICES_PREFIX)}


def _supplied_env(compose: dict[str, Any], service: str) -> dict[str, str]:
    """A service's environment as compose would pass it, with the operator's secrets set."""
    return _environment(_resolved(compose, SUPPLIED)["services"][service])


def _mounts(service: dict[str, Any]) -> list[tuple[Path, str]]:
    """(host path, container path) of a service's bind mounts of the project directory."""
    out = []
    for entry in service.get("volumes", []):
        host, _, rest = str(entry).partition(":")
        if host.startswith("./"):
            out.append((ROOT / host[2:], rest.split(":", 1)[0].rstrip("/")))
    return out


def _host_path(service: dict[str, Any], container_path: str) -> Path | None:
    """The file in the repository a container path of ``service`` is mounted from, if any."""
    for host, target in _mounts(service):
        if container_path == target or container_path.startswith(target + "/"):
            return host / container_path[len(target) :].lstrip("/")
    return None


def test_mediamon_settings_set_are_exactly_ones_the_code_reads(
    compose: dict[str, Any], services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from pipeline.config import Settings

    read = {f"MEDIAMON_{name.upper()}" for name in Settings.model_fields}
    for name, service in services.items():
        env = _environment(service)
        unknown = sorted(k for k in env if k.startswith("MEDIAMON_") and k not in read)
        assert not unknown, f"{name} sets settings no code reads: {unknown}"
    for name in _airflow_services(services):
        env = _supplied_env(compose, name)
        missing = sorted(PRODUCTION_SETTINGS - env.keys())
        assert not missing, f"{name} lacks settings production needs: {missing}"
        # The values parse as the settings object reads them (JSON options, paths, booleans).
        for key in [k for k in os.environ if k.startswith("MEDIAMON_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            if key.startswith("MEDIAMON_"):
                monkeypatch.setenv(key, value)
        settings = Settings()
        assert settings.raw_archive_url and settings.raw_archive_url.startswith("s3://"), name
        assert "airflow_conn_id" in settings.model_fields_set, name


def test_warehouse_connection_is_named_and_defined_in_every_airflow_service(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    for name in _airflow_services(services):
        env = _supplied_env(compose, name)
        conn_id = env["MEDIAMON_AIRFLOW_CONN_ID"]
        uri = env.get("AIRFLOW_CONN_" + conn_id.upper(), "")
        assert uri.startswith("postgresql://") and "@warehouse-db:5432/" in uri, (name, uri)


def test_state_and_feeds_paths_are_mounted_from_the_project(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    for name, service in _airflow_services(services).items():
        env = _supplied_env(compose, name)
        home = _host_path(service, env["MEDIAMON_HOME"])
        assert home is not None, f"{name}: MEDIAMON_HOME is not on a mounted folder"
    init = services["airflow-init"]
    feeds = _host_path(init, _supplied_env(compose, "airflow-init")["MEDIAMON_FEEDS_FILE"])
    assert feeds is not None and feeds.is_file(), f"airflow-init: {feeds}"


def test_the_feed_registry_is_seeded_by_airflow_init_and_read_by_no_worker(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    # Issue 17: polling reads the registry from the warehouse, so a task-running service that
    # still named a feeds file would suggest a worker-local state that no longer exists.
    for name in _airflow_services(services):
        env = _supplied_env(compose, name)
        assert (name == "airflow-init") == ("MEDIAMON_FEEDS_FILE" in env), name
    # airflow-init imports it with `mediamon db upgrade` (into a registry that never held a feed).
    script = "\n".join(services["airflow-init"]["command"])
    assert "mediamon db upgrade" in script


def test_the_fetch_pool_the_dag_names_is_created_by_airflow_init(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    # A task naming a pool that does not exist is never scheduled: every Airflow service names
    # the same pool, and airflow-init creates that one.
    pools = {
        _supplied_env(compose, name).get("MEDIAMON_FETCH_POOL")
        for name in _airflow_services(services)
    }
    assert pools == {"mediamon_fetch"}, pools
    script = "\n".join(services["airflow-init"]["command"])
    assert 'airflow pools set "$${MEDIAMON_FETCH_POOL}"' in script


def _samples_command(service: dict[str, Any]) -> dict[str, str]:
    args = service["command"]
    assert args[0] == "serve-samples", args
    return dict(arg[2:].split("=", 1) for arg in args[1:])


def test_default_feeds_point_at_the_samples_service_and_it_serves_them(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    from pipeline.feeds import load_registry
    from pipeline.samples import PLACEHOLDER, make_server

    samples = services["samples"]
    assert _image(samples) == _image(services["airflow-worker"]), "samples: not the same image"
    assert samples["entrypoint"][-1] == "mediamon"
    opts = _samples_command(samples)
    base_url = opts["base-url"]
    # Listening on every interface of its container, reached by its service name and port.
    assert opts["host"] == "0.0.0.0"
    assert base_url == f"http://samples:{opts['port']}"
    assert int(opts["port"]) in {int(p) for p in samples.get("expose", [])}
    assert "ports" not in samples, "the demo corpus is not published on the host"
    site = _host_path(samples, opts["dir"])
    assert site is not None and site.is_dir()

    env = _supplied_env(compose, "airflow-worker")
    assert env["MEDIAMON_ALLOW_PRIVATE_NETWORKS"] == "true", "the samples service is private"
    init_env = _supplied_env(compose, "airflow-init")
    feeds_path = _host_path(services["airflow-init"], init_env["MEDIAMON_FEEDS_FILE"])
    assert feeds_path is not None
    # The compose list is the demo list with the address filled in: the two cannot drift.
    demo = (ROOT / "samples" / "feeds.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(feeds_path.read_text(encoding="utf-8")) == yaml.safe_load(
        demo.replace(PLACEHOLDER, base_url)
    )
    registry = load_registry(feeds_path)
    assert not registry.refused
    urls = [spec.url for spec in registry.specs]
    assert urls and all(u.startswith(base_url + "/") for u in urls)

    # The server as that service runs it (here on loopback): every feed is there, and the links
    # in it carry the service address, not the address it listens on.
    import threading
    import urllib.request

    server = make_server(site, 0, "127.0.0.1", base_url=base_url)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for url in urls:
            local = url.replace(base_url, f"http://127.0.0.1:{port}")
            with urllib.request.urlopen(local, timeout=10) as resp:  # loopback
                body = resp.read().decode("utf-8")
            assert resp.status == 200, url
            assert PLACEHOLDER not in body
            assert f"{base_url}/" in body, f"{url}: links do not name the samples service"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_raw_archive_is_the_shared_object_store(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    import json
    from urllib.parse import urlsplit

    minio = services["minio"]
    assert "healthcheck" in minio and minio.get("volumes"), "minio: a volume and a health check"
    for name in _airflow_services(services):
        env = _supplied_env(compose, name)
        for options in ("MEDIAMON_RAW_ARCHIVE_OPTIONS", "MEDIAMON_DQ_DOCS_OPTIONS"):
            endpoint = json.loads(env[options])["client_kwargs"]["endpoint_url"]
            host = urlsplit(endpoint)
            assert host.hostname == "minio", (name, options)
            assert host.port in {int(p) for p in minio["expose"]}, (name, options)
        # The Data Docs go to the bucket airflow-init creates for the archive.
        assert urlsplit(env["MEDIAMON_DQ_DOCS_URL"]).netloc == urlsplit(
            env["MEDIAMON_RAW_ARCHIVE_URL"]
        ).netloc, name
        assert env["AWS_ACCESS_KEY_ID"] == _supplied_env(compose, "minio")["MINIO_ROOT_USER"]
        assert env["AWS_SECRET_ACCESS_KEY"] == SUPPLIED["MINIO_ROOT_PASSWORD"]
        assert "minio" in services[name].get("depends_on", {}), f"{name} may start before minio"
    # airflow-init creates the bucket the URL names, once minio is up.
    script = "\n".join(services["airflow-init"]["command"])
    assert "pipeline.maintenance prepare-archive" in script


def test_airflow_settings_in_compose_exist_in_airflow(services: dict[str, dict[str, Any]]) -> None:
    # A misspelt AIRFLOW__SECTION__KEY is ignored by Airflow without a word.
    from airflow.configuration import conf

    known = conf.configuration_description
    for name, service in services.items():
        for key in _environment(service):
            m = re.fullmatch(r"AIRFLOW__([A-Z0-9_]+?)__([A-Z0-9_]+)", key)
            if not m:
                continue
            section, option = m.group(1).lower(), m.group(2).lower()
            options = known.get(section, {}).get("options", {})
            # OPTION_CMD / OPTION_SECRET read OPTION from a command or a secrets backend.
            base = re.sub(r"_(cmd|secret)$", "", option)
            assert option in options or base in options, f"{name}: {key}"


def test_celery_and_heartbeat_timeouts_fit_the_tasks(services: dict[str, dict[str, Any]]) -> None:
    from pipeline.flow import DEFAULT_STAGE_TIMEOUT, STAGE_TIMEOUTS

    env = _environment(services["airflow-worker"])
    longest = max([*STAGE_TIMEOUTS.values(), DEFAULT_STAGE_TIMEOUT]).total_seconds()
    visibility = int(env["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT"])
    # Shorter than the longest task and Redis hands a running task to a second worker.
    assert visibility > longest, (visibility, longest)
    heartbeat = int(env["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"])
    # Many heartbeats (every 5 s) may be missed before a live task is failed, and a lost worker
    # costs less than the default 300 s.
    assert 60 <= heartbeat < 300, heartbeat
    for name, service in _airflow_services(services).items():
        timeout = _environment(service).get("AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT")
        assert timeout == str(heartbeat), name


def _dockerfile_extras() -> list[str]:
    m = re.search(r'^ARG AIRFLOW_IMAGE_EXTRAS="([^"]*)"', DOCKERFILE.read_text(), re.MULTILINE)
    assert m, "Dockerfile: ARG AIRFLOW_IMAGE_EXTRAS=... not found"
    return m.group(1).split()


def test_image_dependency_set_resolves(tmp_path: Path, services: dict[str, dict[str, Any]]) -> None:
    # What the Dockerfile installs: the lock's export (the same command) plus the image extras,
    # resolved as one set against PyPI. A conflict here is a conflict in `docker compose build`.
    uv = ROOT / ".tools" / "bin" / "uv"
    assert uv.exists(), f"uv not found at {uv}"
    exported = tmp_path / "requirements.txt"
    export = subprocess.run(
        [str(uv), "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project",
         "--quiet", "--output-file", str(exported)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert export.returncode == 0, export.stderr
    extras = _dockerfile_extras()
    auth_manager = _environment(services["airflow-apiserver"])["AIRFLOW__CORE__AUTH_MANAGER"]
    if auth_manager.startswith("airflow.providers.fab."):
        assert any(e.startswith("apache-airflow-providers-fab==") for e in extras), extras
    requested = tmp_path / "image.in"
    requested.write_text(f"-r {exported}\n" + "\n".join(extras) + "\n")
    resolved = tmp_path / "image.txt"
    compile_ = subprocess.run(
        [str(uv), "pip", "compile", "--python-version", "3.11", "--python-platform", "linux",
         "--no-header", "--quiet", str(requested), "--output-file", str(resolved)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )
    assert compile_.returncode == 0, f"image dependencies do not resolve:\n{compile_.stderr}"
    pins = dict(
        line.split("==", 1)
        for line in resolved.read_text().splitlines()
        if "==" in line and not line.startswith((" ", "#"))
    )
    # Nothing in the lock moved, and every extra is installed at its pinned version.
    for line in exported.read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, version = line.split(";", 1)[0].strip().split("==", 1)
            if name in pins:
                assert pins[name].strip() == version.strip(), (name, version, pins[name])
    for extra in extras:
        name, version = extra.split("==", 1)
        assert pins.get(name, "").strip() == version, (extra, pins.get(name))
