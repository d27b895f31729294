"""deploy/Dockerfile and deploy/compose.yaml, checked without a container engine.

No image is built here (no Docker engine on CI): the Dockerfile is parsed by BuildKit's own
parser (PyPI `dockerfile`) and its properties are asserted; compose.yaml is checked as data.
"""

from __future__ import annotations

import json

import dockerfile
import pytest
import yaml

from .conftest import CHART, DEPLOY, ROOT

pytestmark = pytest.mark.chart

DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"


@pytest.fixture(scope="module")
def instructions() -> list[dockerfile.Command]:
    return list(dockerfile.parse_file(str(DOCKERFILE)))


def stages(instructions: list) -> list[list]:
    result: list[list] = []
    for cmd in instructions:
        if cmd.cmd == "FROM":
            result.append([])
        if result:
            result[-1].append(cmd)
    return result


def test_multi_stage_on_python_311_slim(instructions: list) -> None:
    args = {c.value[0].split("=", 1)[0]: c.value[0].split("=", 1)[1] for c in instructions if c.cmd == "ARG"}
    assert args["PYTHON_IMAGE"] == "python:3.11-slim"
    froms = [c.value for c in instructions if c.cmd == "FROM"]
    assert froms == [("${PYTHON_IMAGE}", "AS", "build"), ("${PYTHON_IMAGE}", "AS", "runtime")]


def test_build_stage_installs_the_project_wheel(instructions: list) -> None:
    build = stages(instructions)[0]
    run = " ".join(c.value[0] for c in build if c.cmd == "RUN")
    assert "pip wheel --no-deps --wheel-dir /wheels ." in run
    assert "/opt/alcyon/bin/pip install /wheels/alcyon-*.whl" in run
    copied = [c.value[0] for c in build if c.cmd == "COPY"]
    for source in copied:  # every COPY source exists in the build context (the repository root)
        assert (ROOT / source.rstrip("/")).exists(), source


def test_runtime_stage(instructions: list) -> None:
    runtime = stages(instructions)[-1]
    by_cmd = {}
    for c in runtime:
        by_cmd.setdefault(c.cmd, []).append(c)
    (copy,) = by_cmd["COPY"]
    assert copy.flags == ("--from=build",) and copy.value == ("/opt/alcyon", "/opt/alcyon")
    (user,) = by_cmd["USER"]
    uid = int(user.value[0].split(":")[0])
    assert uid != 0
    assert uid == yaml.safe_load((CHART / "values.yaml").read_text())["podSecurityContext"]["runAsUser"]
    (entrypoint,) = by_cmd["ENTRYPOINT"]
    assert entrypoint.json and entrypoint.value == ("alcyon",), "exec form, so alcyon gets SIGTERM as PID 1"
    assert "HEALTHCHECK" not in by_cmd, "Kubernetes probes, not a Docker HEALTHCHECK"
    env = dict(zip(by_cmd["ENV"][0].value[::2], by_cmd["ENV"][0].value[1::2]))
    assert env["ALCYON_METRICS_DIR"].startswith("/tmp/")
    assert env["ALCYON_METRICS_HOST"] == "0.0.0.0" and env["ALCYON_METRICS_PORT"] == "9191"
    assert env["PATH"].startswith("/opt/alcyon/bin:")
    assert [e.value for e in by_cmd["EXPOSE"]] == [("9191",)]
    (workdir,) = by_cmd["WORKDIR"]
    assert workdir.value == ("/var/lib/alcyon",)
    assert "install -d -o 10001 -g 10001" in by_cmd["RUN"][0].value[0]


def test_dockerignore_next_to_the_dockerfile() -> None:
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert ".git" in ignored and "**/__pycache__" in ignored


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_services(compose: dict) -> None:
    services = compose["services"]
    assert services["rabbitmq"]["image"] == "rabbitmq:3-management"
    assert services["redis"]["image"].startswith("redis:")
    assert services["prometheus"]["image"].startswith("prom/prometheus:")
    assert services["grafana"]["image"].startswith("grafana/grafana-oss:")
    assert not any("bitnami" in str(s.get("image", "")) for s in services.values())
    assert services["topology"]["command"] == ["topology", "--apply"]


def test_compose_one_worker_per_processor_group(compose: dict) -> None:
    workers = {name: s for name, s in compose["services"].items() if s.get("command", [None])[0] == "worker"}
    groups = {name.removeprefix("worker-"): s["command"][2] for name, s in workers.items()}
    assert groups == {"geofence": "geofence", "notify": "notify"}
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (alcyon_job,) = [j for j in prometheus["scrape_configs"] if j["job_name"] == "alcyon"]
    sources = {name: s for name, s in compose["services"].items() if s.get("command", [None])[0] == "ingest"}
    assert {name: s["command"][1] for name, s in sources.items()} == {"ingest-ais": "ais"}
    assert sorted(alcyon_job["static_configs"][0]["targets"]) == sorted(f"{n}:9191" for n in {**workers, **sources})
    for name, service in {**workers, **sources}.items():
        assert "/readyz" in " ".join(service["healthcheck"]["test"]), name
    for name, service in workers.items():
        assert service["read_only"] is True and service["tmpfs"] == ["/tmp"], name
        env = service["environment"]
        assert env["ALCYON_METRICS_DIR"].startswith("/tmp/") and env["ALCYON_METRICS_HOST"] == "0.0.0.0"
        assert "ALCYON_BROKER_URL" not in env and env["ALCYON_BROKER_URL_FILE"] == "/run/secrets/broker_url"
        assert service["stop_grace_period"] == f"{int(env['ALCYON_SHUTDOWN_GRACE_S']) + 5}s"
        assert service["depends_on"]["topology"]["condition"] == "service_completed_successfully"
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}


def test_compose_mounted_files_exist(compose: dict) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source}"
    for secret in compose["secrets"].values():
        assert (DEPLOY / secret["file"]).is_file()
    assert "rabbitmq_prometheus" in (DEPLOY / "rabbitmq" / "enabled_plugins").read_text()


def test_dashboard_and_rules_are_shared_with_the_chart() -> None:
    assert (CHART / "files" / "alerts.yaml").resolve() == (DEPLOY / "prometheus" / "alerts.yaml").resolve()
    assert json.loads((CHART / "files" / "alcyon.json").read_text()) == json.loads(
        (DEPLOY / "grafana" / "alcyon.json").read_text())
