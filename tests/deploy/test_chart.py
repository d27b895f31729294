"""The Helm chart, rendered by the real helm binary and validated against Kubernetes' schemas."""

from __future__ import annotations

import json
import math
import os
import tarfile
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import tomllib
import yaml

from alcyon import __version__
from alcyon.config import SETTINGS, load_config
from alcyon.plugins import PluginHost

from .conftest import ALL_VALUES, CHART, CRD_KINDS, DEPLOY, NAMESPACE, RELEASE, ROOT, env_of, of_kind, pod_specs

pytestmark = pytest.mark.chart

#: Kapsule's current minor versions span these; kubernetes-validate ships strict schemas for both.
KUBERNETES_VERSIONS = ("1.31.0", "1.35.0")

#: [alcyon] keys the chart sets itself (environment or Secret files), refused in config.alcyon.
CHART_MANAGED_KEYS = {"broker_url", "state_url", "metrics_host", "metrics_port", "metrics_dir", "worker_threads",
                      "shutdown_grace_s"}

SECRET_SCHEMES = ("amqp://", "amqps://", "redis://", "rediss://")


@pytest.fixture(params=["default", "all"])
def manifests(request: pytest.FixtureRequest, default_manifests: list, all_manifests: list) -> list[dict[str, Any]]:
    return default_manifests if request.param == "default" else all_manifests


def worker_deployments(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Deployments of worker groups (not of ingest sources)."""
    return [d for d in of_kind(manifests, "Deployment") if d["metadata"]["labels"]["app.kubernetes.io/component"]
            == "worker"]


def deployments_by_group(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["labels"]["alcyon/worker-group"]: d for d in worker_deployments(manifests)}


def container(deployment: dict[str, Any], name: str = "worker") -> dict[str, Any]:
    (c,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == name]
    return c


# -- helm itself ----------------------------------------------------------------------------------
@pytest.mark.parametrize("values_file", [None, ALL_VALUES], ids=["default", "all"])
def test_lint_strict(helm_bin, values_file: Path | None) -> None:
    args = ["lint", "--strict", str(CHART)] + (["-f", str(values_file)] if values_file else [])
    result = helm_bin(*args)
    assert "0 chart(s) failed" in result.stdout
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout


def test_package_resolves_the_shared_files(helm_bin, tmp_path: Path) -> None:
    """files/alerts.yaml and files/alcyon.json are symlinks into deploy/: the packaged chart holds their content."""
    helm_bin("package", str(CHART), "--destination", str(tmp_path))
    (archive,) = tmp_path.glob("alcyon-*.tgz")
    with tarfile.open(archive) as tgz:
        names = tgz.getnames()
        rules = tgz.extractfile("alcyon/files/alerts.yaml").read()
        dashboard = tgz.extractfile("alcyon/files/alcyon.json").read()
        emissions = tgz.extractfile("alcyon/files/alcyon-emissions.json").read()
    assert rules == (DEPLOY / "prometheus" / "alerts.yaml").read_bytes()
    assert dashboard == (DEPLOY / "grafana" / "alcyon.json").read_bytes()
    assert emissions == (DEPLOY / "grafana" / "alcyon-emissions.json").read_bytes()
    assert not any("/ci/" in n for n in names), "ci/ test values are .helmignored"
    assert "alcyon/values.schema.json" in names


def test_notes_render_offline(helm_bin) -> None:
    result = helm_bin("install", RELEASE, str(CHART), "--dry-run=client", "--namespace", NAMESPACE)
    notes = result.stdout.split("NOTES:", 1)[1]
    assert "rel-alcyon-geofence: geofence (1 replica(s), 4 threads, grace 25 s)" in notes
    assert "helm test rel" in notes and "alcyon dlq list" in notes
    assert "a RabbitMQ vhost of its own" in notes


def test_notes_give_the_keda_target_in_events(helm_bin) -> None:
    result = helm_bin("install", RELEASE, str(CHART), "--dry-run=client", "--namespace", NAMESPACE,
                      "-f", str(ALL_VALUES))
    notes = " ".join(result.stdout.split("NOTES:", 1)[1].split())
    # all-values: queueLength 1000 messages x batch_max_events 200
    assert "KEDA target: 1000 ready messages per replica per queue, i.e. up to 200000 events" in notes
    assert f"{RELEASE}-alcyon-ingest-ais-lb: source ais (udp://0.0.0.0:10110, tcp://receiver.example.org:5631), " \
           "Service LoadBalancer" in notes


def test_chart_app_version_is_the_project_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert chart["appVersion"] == project == __version__


# -- every manifest is valid Kubernetes ----------------------------------------------------------
@pytest.mark.parametrize("kube_version", KUBERNETES_VERSIONS)
def test_manifests_validate_strictly(manifests: list[dict[str, Any]], kube_version: str) -> None:
    skipped = set()
    for m in manifests:
        if m["kind"] in CRD_KINDS:
            skipped.add(m["kind"])  # no schema in kubernetes-validate; checked structurally below
            continue
        try:
            kubernetes_validate.validate(m, kube_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{m['kind']}/{m['metadata']['name']} is invalid for Kubernetes {kube_version}: "
                        f"{exc.message} at {'.'.join(map(str, exc.path))}")
    assert skipped <= CRD_KINDS


def test_expected_kinds(default_manifests: list, all_manifests: list) -> None:
    def kinds(ms: list) -> list[str]:
        return sorted({m["kind"] for m in ms})

    assert kinds(default_manifests) == ["ConfigMap", "Deployment", "Job", "PersistentVolumeClaim", "Pod",
                                        "PodDisruptionBudget", "ServiceAccount"]
    assert kinds(all_manifests) == ["ConfigMap", "Deployment", "NetworkPolicy", "PersistentVolumeClaim", "Pod",
                                    "PodDisruptionBudget", "PodMonitor", "PrometheusRule", "ScaledObject", "Service",
                                    "ServiceAccount", "TriggerAuthentication"]


# -- worker groups --------------------------------------------------------------------------------
def test_one_deployment_per_worker_group(manifests: list, values: dict, all_values: dict) -> None:
    groups = deployments_by_group(manifests)
    expected = all_values["workers"] if len(groups) == len(all_values["workers"]) else values["workers"]
    assert list(groups) == [g["name"] for g in expected]
    for g in expected:
        d = groups[g["name"]]
        assert d["metadata"]["name"] == f"{RELEASE}-alcyon-{g['name']}"
        args = container(d)["args"]
        assert args == ["worker", "--processors", ",".join(g["processors"]), "--threads", str(g["threads"])]
        assert env_of(container(d))["ALCYON_WORKER_THREADS"] == str(g["threads"])
        assert container(d)["resources"] == g.get("resources", {})


def test_selectors_are_per_group_and_match_their_pods(manifests: list) -> None:
    deployments = worker_deployments(manifests)
    for d in deployments:
        selector = d["spec"]["selector"]["matchLabels"]
        assert selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        for other in deployments:
            if other is not d:
                assert not selector.items() <= other["spec"]["template"]["metadata"]["labels"].items(), \
                    f"{d['metadata']['name']} would also select the pods of {other['metadata']['name']}"


def test_grace_period_matches_the_worker_shutdown(manifests: list, values: dict, all_values: dict) -> None:
    for d in deployments_by_group(manifests).values():
        grace = float(env_of(container(d))["ALCYON_SHUTDOWN_GRACE_S"])
        assert d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == math.ceil(grace) + 5
    by_group = {g: float(env_of(container(d))["ALCYON_SHUTDOWN_GRACE_S"])
                for g, d in deployments_by_group(manifests).items()}
    if "alerts" in by_group:  # all-values: a group override (12.5) and the top-level default (40)
        assert by_group == {"geofence": 12.5, "alerts": 40.0, "batch": 40.0, "ledger": 40.0}
        assert deployments_by_group(manifests)["geofence"]["spec"]["template"]["spec"][
            "terminationGracePeriodSeconds"] == 18
    else:
        assert by_group == {"geofence": 25.0, "notify": 25.0}
        assert values["shutdownGraceSeconds"] == 25


def test_secrets_are_file_mounted_never_inline(manifests: list) -> None:
    assert not of_kind(manifests, "Secret"), "the chart must not create Secrets: they exist beforehand"
    text = yaml.safe_dump_all(manifests)
    for scheme in SECRET_SCHEMES:
        assert scheme not in text, f"a {scheme} URL is written in a manifest"
    for name, spec in pod_specs(manifests):
        volumes = {v["name"]: v for v in spec["volumes"]}
        projected = volumes["secrets"]["projected"]
        files = {item["path"]: src["secret"] for src in projected["sources"] for item in src["secret"]["items"]}
        assert projected["defaultMode"] == 0o440
        for c in spec.get("initContainers", []) + spec["containers"]:
            env = env_of(c)
            assert "ALCYON_BROKER_URL" not in env and "ALCYON_STATE_URL" not in env, name
            mounts = {m["name"]: m for m in c["volumeMounts"]}
            assert mounts["secrets"]["readOnly"] is True
            secret_dir = mounts["secrets"]["mountPath"]
            for var in ("ALCYON_BROKER_URL_FILE", "ALCYON_STATE_URL_FILE"):
                if var in env:
                    path = Path(env[var])
                    assert str(path.parent) == secret_dir and path.name in files, (name, var)
            assert "ALCYON_BROKER_URL_FILE" in env, name


def test_secret_names_and_keys_come_from_values(all_manifests: list, all_values: dict) -> None:
    (d, *_) = of_kind(all_manifests, "Deployment")
    sources = {src["secret"]["items"][0]["path"]: src["secret"]
               for v in d["spec"]["template"]["spec"]["volumes"] if v["name"] == "secrets"
               for src in v["projected"]["sources"]}
    assert sources["broker_url"]["name"] == all_values["secrets"]["broker"]["name"]
    assert sources["broker_url"]["items"][0]["key"] == all_values["secrets"]["broker"]["key"]
    assert sources["state_url"]["name"] == all_values["secrets"]["state"]["name"]


def test_without_state_secret_no_state_file(render) -> None:
    manifests = render(None, "secrets.state.name=")
    for name, spec in pod_specs(manifests):
        for c in spec["containers"]:
            assert "ALCYON_STATE_URL_FILE" not in env_of(c), name


def dockerfile_user() -> int:
    users = [line.split()[1] for line in (DEPLOY / "Dockerfile").read_text().splitlines() if line.startswith("USER ")]
    return int(users[-1].split(":")[0])


def test_security_context_non_root_read_only(manifests: list) -> None:
    uid = dockerfile_user()
    for name, spec in pod_specs(manifests):
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] == uid == 10001, name
        assert pod["seccompProfile"]["type"] == "RuntimeDefault"
        assert spec["automountServiceAccountToken"] is False, name
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert "emptyDir" in volumes["tmp"], name
        for c in spec.get("initContainers", []) + spec["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
            assert mounts["/tmp"] == "tmp", name
            assert env_of(c)["ALCYON_METRICS_DIR"].startswith("/tmp/"), name


def test_notify_jsonl_file_is_on_a_persistent_volume_of_its_own(default_manifests: list, values: dict) -> None:
    """The root filesystem is read-only: notify's JSON-lines file is on the notify group's own claim.

    On an emptyDir it would be lost when the pod moves, while the delivery ledger (Redis)
    still records those alerts as delivered.
    """
    jsonl = Path(values["config"]["plugins"]["notify"]["jsonl_path"])
    claims = {c["metadata"]["name"]: c for c in of_kind(default_manifests, "PersistentVolumeClaim")}
    for group, d in deployments_by_group(default_manifests).items():
        mounts = {m["mountPath"]: m["name"] for m in container(d)["volumeMounts"]}
        assert mounts.get(str(jsonl.parent)) == "data"
        volumes = {v["name"]: v for v in d["spec"]["template"]["spec"]["volumes"]}
        if group == "notify":
            claim = claims[volumes["data"]["persistentVolumeClaim"]["claimName"]]
            assert claim["spec"]["accessModes"] == ["ReadWriteOnce"] and "storageClassName" not in claim["spec"]
            assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
            assert d["spec"]["replicas"] == 1 and d["spec"]["strategy"] == {"type": "Recreate"}
        else:
            assert "emptyDir" in volumes["data"]
    assert set(claims) == {f"{RELEASE}-alcyon-notify-data"}


def test_existing_claim_for_data_and_per_group_claims(all_manifests: list, all_values: dict) -> None:
    groups = {g["name"]: g for g in all_values["workers"]}
    claims = {c["metadata"]["name"]: c for c in of_kind(all_manifests, "PersistentVolumeClaim")}
    for group, d in deployments_by_group(all_manifests).items():
        volumes = {v["name"]: v for v in d["spec"]["template"]["spec"]["volumes"]}
        claim = volumes["data"]["persistentVolumeClaim"]["claimName"]
        if groups[group].get("persistence", {}).get("enabled"):
            assert claim == f"{RELEASE}-alcyon-{group}-data"
            assert claims[claim]["spec"]["storageClassName"] == "sbs-default"
            assert claims[claim]["spec"]["resources"]["requests"]["storage"] == "5Gi"
        else:
            assert claim == all_values["dataVolume"]["existingClaim"]


def test_labels(manifests: list) -> None:
    for m in manifests:
        labels = m["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "alcyon"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/version"] == __version__
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["helm.sh/chart"] == "alcyon-0.1.0"
        assert labels["app.kubernetes.io/part-of"] == "alcyon"
        assert m["metadata"].get("namespace", NAMESPACE) in (NAMESPACE, "monitoring")
    for d in of_kind(manifests, "Deployment") + of_kind(manifests, "Job"):
        template_labels = d["spec"]["template"]["metadata"]["labels"]
        assert template_labels["app.kubernetes.io/name"] == "alcyon"
        assert template_labels["app.kubernetes.io/instance"] == RELEASE


def test_image_defaults_to_app_version(default_manifests: list, all_manifests: list, all_values: dict) -> None:
    for _, spec in pod_specs(default_manifests):
        for c in spec["containers"]:
            assert c["image"] == f"ghcr.io/alcyon-project/alcyon:{__version__}"
    for _, spec in pod_specs(all_manifests):
        for c in spec.get("initContainers", []) + spec["containers"]:
            assert c["image"] == f"ghcr.io/alcyon-project/alcyon@{all_values['image']['digest']}"


# -- metrics ----------------------------------------------------------------------------------
def test_metrics_port_and_scrape_annotations(default_manifests: list) -> None:
    for d in worker_deployments(default_manifests):
        c = container(d)
        assert c["ports"] == [{"name": "metrics", "containerPort": 9191, "protocol": "TCP"}]
        env = env_of(c)
        assert env["ALCYON_METRICS_HOST"] == "0.0.0.0" and env["ALCYON_METRICS_PORT"] == "9191"
        annotations = d["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == "9191"
        assert annotations["k8s.grafana.com/scrape"] == "true"
        assert annotations["k8s.grafana.com/job"] == "alcyon"
        assert annotations["k8s.grafana.com/metrics.portName"] == "metrics"
        for probe, path in (("startupProbe", "/livez"), ("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
            assert c[probe]["httpGet"] == {"path": path, "port": "metrics"}


def test_pod_monitor(all_manifests: list) -> None:
    (pm,) = of_kind(all_manifests, "PodMonitor")
    assert pm["apiVersion"] == "monitoring.coreos.com/v1"
    assert pm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    selector = pm["spec"]["selector"]["matchLabels"]
    (expression,) = pm["spec"]["selector"]["matchExpressions"]
    assert expression == {"key": "app.kubernetes.io/component", "operator": "In", "values": ["worker", "ingest"]}
    for d in of_kind(all_manifests, "Deployment"):  # workers and ingest sources alike
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items() and labels["app.kubernetes.io/component"] in expression["values"]
    (endpoint,) = pm["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == "metrics" and endpoint["path"] == "/metrics"
    assert {"action": "replace", "targetLabel": "job", "replacement": "alcyon"} in endpoint["relabelings"]
    assert {"action": "replace", "sourceLabels": ["__meta_kubernetes_pod_label_app_kubernetes_io_instance"],
            "targetLabel": "release"} in endpoint["relabelings"], "the dashboard's release variable"


def test_prometheus_rule_is_the_shared_rules_file(all_manifests: list) -> None:
    (rule,) = of_kind(all_manifests, "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["spec"] == yaml.safe_load((DEPLOY / "prometheus" / "alerts.yaml").read_text())
    assert (CHART / "files" / "alerts.yaml").resolve() == (DEPLOY / "prometheus" / "alerts.yaml").resolve()


def test_dashboard_config_map(manifests: list) -> None:
    (cm,) = [m for m in of_kind(manifests, "ConfigMap") if m["metadata"]["name"].endswith("-dashboard")]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    for name in ("alcyon.json", "alcyon-emissions.json"):
        assert json.loads(cm["data"][name]) == json.loads((DEPLOY / "grafana" / name).read_text())
        assert (CHART / "files" / name).resolve() == (DEPLOY / "grafana" / name).resolve()


def test_dashboard_namespace_and_folder(all_manifests: list) -> None:
    (cm,) = [m for m in of_kind(all_manifests, "ConfigMap") if m["metadata"]["name"].endswith("-dashboard")]
    assert cm["metadata"]["namespace"] == "monitoring"
    assert cm["metadata"]["annotations"] == {"grafana_folder": "alcyon"}


# -- configuration ------------------------------------------------------------------------------
def config_map_toml(manifests: list, suffix: str = "-config") -> str:
    (cm,) = [m for m in of_kind(manifests, "ConfigMap") if m["metadata"]["name"].endswith(suffix)]
    return cm["data"]["alcyon.toml"]


def pod_environment(c: dict[str, Any], tmp_path: Path) -> dict[str, str]:
    """The container's environment as alcyon sees it: *_FILE paths remapped to local files."""
    fake = {"ALCYON_BROKER_URL_FILE": "amqp://alcyon:s3cret@rabbitmq:5672/alcyon",
            "ALCYON_STATE_URL_FILE": "redis://:s3cret@redis:6379/0"}
    env: dict[str, str] = {}
    for name, value in env_of(c).items():
        if name.endswith("_URL_FILE"):
            local = tmp_path / name
            local.write_text(fake[name] + "\n")
            value = str(local)
        elif not isinstance(value, str):
            value = "token-from-a-secret"  # valueFrom: what the kubelet would resolve
        env[name] = value
    env.pop("ALCYON_CONFIG")
    return env


def test_every_pod_loads_a_valid_alcyon_configuration(manifests: list, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Each container's ConfigMap alcyon.toml plus its environment loads and validates in alcyon itself.

    Every process validates every plugin's table (workers of all groups, the topology job, the
    test pod), so a secret a plugin references must reach every pod: this is checked here too.
    """
    secret_dir = tmp_path / "notify"
    secret_dir.mkdir()
    (secret_dir / "firewatch_url").write_text("https://hooks.example.org/firewatch")
    config_maps = {m["metadata"]["name"]: m["data"]["alcyon.toml"] for m in of_kind(manifests, "ConfigMap")
                   if "alcyon.toml" in m["data"]}
    checked = 0
    for name, spec in pod_specs(manifests):
        volumes = {v["name"]: v for v in spec["volumes"]}
        # a ${file:...} reference of the all-values webhooks points into a mounted Secret: make it exist here
        text = config_maps[volumes["config"]["configMap"]["name"]].replace("/run/secrets/notify/", f"{secret_dir}/")
        toml_path = tmp_path / "alcyon.toml"
        toml_path.write_text(text)
        for c in spec.get("initContainers", []) + spec["containers"]:
            env = pod_environment(c, tmp_path)
            with monkeypatch.context() as m:  # plugins resolve ${env:NAME} from the process environment
                for key in [k for k in os.environ if k.startswith("ALCYON_")]:
                    m.delenv(key)
                for key, value in env.items():
                    m.setenv(key, value)
                config = load_config(toml_path, env=env)
                try:
                    PluginHost(config).load_entry_points().validate()
                except Exception as exc:  # noqa: BLE001 - name the pod in the failure
                    pytest.fail(f"{name} container {c['name']}: {exc}")
            assert config.broker_url.startswith("amqp://")
            assert config.metrics_host == "0.0.0.0" and config.metrics_port == 9191
            assert config.metrics_dir == "/tmp/alcyon-metrics"
            if c["name"] == "worker":
                assert config.state_url.startswith("redis://")
                assert config.shutdown_grace_s == float(env["ALCYON_SHUTDOWN_GRACE_S"])
                assert config.worker_threads == int(env["ALCYON_WORKER_THREADS"])
            checked += 1
    assert checked >= 3


def test_numbers_are_written_as_toml_integers(default_manifests: list, all_manifests: list,
                                              values: dict, all_values: dict) -> None:
    """Helm reads 500 as 500.0; alcyon's integer settings refuse floats, so the chart writes integers."""
    for manifests, vals in ((default_manifests, values), (all_manifests, all_values)):
        doc = tomllib.loads(config_map_toml(manifests))
        for key, value in vals["config"]["alcyon"].items():
            assert doc["alcyon"][key] == value and type(doc["alcyon"][key]) is type(value), key
        for plugin, table in vals["config"]["plugins"].items():
            assert doc["plugins"][plugin] == table, plugin
    assert "batch_max_events = 500\n" in config_map_toml(default_manifests)


def test_inline_tables_and_strings_survive(all_manifests: list, all_values: dict) -> None:
    doc = tomllib.loads(config_map_toml(all_manifests))
    hooks = doc["plugins"]["notify"]["webhooks"]
    assert hooks["rangers"]["headers"] == {"Authorization": "Bearer ${env:RANGERS_TOKEN}"}
    assert doc["plugins"]["notify"]["ledger_ttl_s"] == 86400.5
    assert doc["plugins"]["disabled"] == ["emissions"]


def test_chart_managed_keys_are_refused_in_config(helm_bin) -> None:
    for key in sorted(CHART_MANAGED_KEYS):
        result = helm_bin("template", RELEASE, str(CHART), "--set", f"config.alcyon.{key}=x", check=False)
        assert result.returncode != 0 and key in result.stderr, key


def test_schema_knows_every_alcyon_setting() -> None:
    """config.alcyon accepts exactly alcyon's settings minus those the chart manages."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    allowed = set(schema["properties"]["config"]["properties"]["alcyon"]["properties"])
    assert allowed | CHART_MANAGED_KEYS == {s.name for s in SETTINGS}
    assert not allowed & CHART_MANAGED_KEYS


@pytest.mark.parametrize("bad, message", [
    (["--set", "nope=1"], "additional properties 'nope' not allowed"),
    (["--set", "secrets.broker.name="], "/secrets/broker/name"),
    (["--set", "keda.queueLength=lots"], "/keda/queueLength"),
    (["--set", "topology.mode=sometimes"], "/topology/mode"),
    (["--set", "workers[0].name=Geo_Fence", "--set", "workers[0].processors={geofence}",
      "--set", "workers[0].replicas=1", "--set", "workers[0].threads=1"], "/workers/0/name"),
])
def test_schema_rejects_bad_values(helm_bin, bad: list[str], message: str) -> None:
    result = helm_bin("template", RELEASE, str(CHART), *bad, check=False)
    assert result.returncode != 0 and message in result.stderr, result.stderr


def test_duplicate_group_names_fail(helm_bin, tmp_path: Path) -> None:
    values = tmp_path / "dup.yaml"
    values.write_text(yaml.safe_dump({"workers": [
        {"name": "geofence", "processors": ["geofence"], "replicas": 1, "threads": 1},
        {"name": "geofence", "processors": ["notify"], "replicas": 1, "threads": 1}]}))
    result = helm_bin("template", RELEASE, str(CHART), "-f", str(values), check=False)
    assert result.returncode != 0 and 'group name "geofence" is used twice' in result.stderr


def test_null_config_value_fails_clearly(helm_bin, tmp_path: Path) -> None:
    values = tmp_path / "null.yaml"
    # (a null that overrides a default just deletes it, in Helm; a null with no default reaches the template)
    values.write_text("config:\n  plugins:\n    notify:\n      webhooks:\n        rangers:\n          url: null\n")
    result = helm_bin("template", RELEASE, str(CHART), "-f", str(values), check=False)
    assert result.returncode != 0 and "null cannot be written to alcyon.toml" in result.stderr


# -- topology -------------------------------------------------------------------------------------
def test_topology_job_hook(default_manifests: list) -> None:
    (job,) = of_kind(default_manifests, "Job")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    (c,) = job["spec"]["template"]["spec"]["containers"]
    assert c["args"] == ["topology", "--apply"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert "serviceAccountName" not in job["spec"]["template"]["spec"], "hooks run before the chart's ServiceAccount"
    # its ConfigMap is a hook too, created first, with the same alcyon.toml as the workers'
    (hook_cm,) = [m for m in of_kind(default_manifests, "ConfigMap") if m["metadata"]["name"].endswith("-topology")]
    assert hook_cm["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(hook_cm["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(annotations["helm.sh/hook-weight"])
    assert hook_cm["data"]["alcyon.toml"] == config_map_toml(default_manifests)
    volumes = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
    assert volumes["config"]["configMap"]["name"] == hook_cm["metadata"]["name"]
    for d in of_kind(default_manifests, "Deployment"):
        assert "initContainers" not in d["spec"]["template"]["spec"]


def test_topology_init_container(all_manifests: list) -> None:
    assert not of_kind(all_manifests, "Job")
    for d in worker_deployments(all_manifests):
        (init,) = d["spec"]["template"]["spec"]["initContainers"]
        assert init["args"] == ["topology", "--apply"]
        assert "ALCYON_BROKER_URL_FILE" in env_of(init)


def test_topology_none(render) -> None:
    manifests = render(None, "topology.mode=none")
    assert not of_kind(manifests, "Job")
    assert all("initContainers" not in d["spec"]["template"]["spec"] for d in of_kind(manifests, "Deployment"))


# -- scaling and disruption ---------------------------------------------------------------------
def test_keda_scaled_objects(all_manifests: list, all_values: dict) -> None:
    deployments = deployments_by_group(all_manifests)
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in of_kind(all_manifests, "ScaledObject")}
    (auth,) = of_kind(all_manifests, "TriggerAuthentication")
    client = all_values["keda"]["auth"]["tls"]["clientCertSecret"]
    assert auth["spec"]["secretTargetRef"] == [
        {"parameter": "host", "name": all_values["secrets"]["broker"]["name"],
         "key": all_values["secrets"]["broker"]["key"]},
        # the workers' private CA reaches KEDA too, and the client certificate
        {"parameter": "ca", "name": all_values["secrets"]["brokerCA"]["name"],
         "key": all_values["secrets"]["brokerCA"]["key"]},
        {"parameter": "cert", "name": client["name"], "key": client["certKey"]},
        {"parameter": "key", "name": client["name"], "key": client["keyKey"]}]
    assert auth["spec"]["env"] == [{"parameter": "tls", "name": "KEDA_RABBITMQ_TLS"}]
    groups = {g["name"]: g for g in all_values["workers"]}
    # geofence is ordered (one process): KEDA is off for it; alerts (notify) scales on queue depth
    assert set(scaled) == {deployments["alerts"]["metadata"]["name"]}
    assert deployments["geofence"]["spec"]["replicas"] == 1
    for name, group in groups.items():
        d = deployments[name]
        so = scaled.get(d["metadata"]["name"])
        if so is None:  # keda disabled for this group
            assert d["spec"]["replicas"] == group["replicas"]
            continue
        assert "replicas" not in d["spec"], "KEDA owns the replica count"
        queues = [t["metadata"]["queueName"] for t in so["spec"]["triggers"]]
        expected = [f"alcyon.{p}" for p in group["processors"]]
        if so["spec"]["minReplicaCount"] == 0:
            expected = [q for p in group["processors"] for q in (f"alcyon.{p}", f"alcyon.{p}.DQ")]
        assert queues == expected
        for t in so["spec"]["triggers"]:
            assert t["type"] == "rabbitmq"
            assert t["authenticationRef"]["name"] == auth["metadata"]["name"]
            assert t["metadata"]["mode"] == "QueueLength"
            assert all(isinstance(v, str) for v in t["metadata"].values()), "KEDA metadata values are strings"
            assert t["metadata"]["vhostName"] == "alcyon"
    alerts = scaled[deployments["alerts"]["metadata"]["name"]]
    assert (alerts["spec"]["minReplicaCount"], alerts["spec"]["maxReplicaCount"]) == (0, 20)
    assert alerts["spec"]["triggers"][0]["metadata"]["value"] == "1000"


def test_keda_min_above_max_fails(helm_bin) -> None:
    result = helm_bin("template", RELEASE, str(CHART), "--set", "keda.enabled=true", "--set", "keda.minReplicas=5",
                      "--set", "keda.maxReplicas=2", check=False)
    assert result.returncode != 0 and "minReplicas" in result.stderr


def test_pdb_per_group(manifests: list) -> None:
    deployments = worker_deployments(manifests)
    pdbs = {p["metadata"]["name"]: p for p in of_kind(manifests, "PodDisruptionBudget")}
    assert set(pdbs) == {d["metadata"]["name"] for d in deployments}
    for d in deployments:
        pdb = pdbs[d["metadata"]["name"]]
        assert pdb["spec"]["selector"]["matchLabels"] == d["spec"]["selector"]["matchLabels"]
        assert pdb["spec"]["maxUnavailable"] == 1


def test_network_policy(all_manifests: list) -> None:
    (np,) = of_kind(all_manifests, "NetworkPolicy")
    selector = np["spec"]["podSelector"]["matchLabels"]
    for d in of_kind(all_manifests, "Deployment"):
        assert selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
    ingress, receivers = np["spec"]["ingress"]
    assert ingress["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    assert receivers == {"ports": [{"port": "nmea-udp", "protocol": "UDP"}]}, "AIS receivers push to ingest"
    assert ingress["from"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
    egress_ports = {p["port"] for rule in np["spec"]["egress"] for p in rule["ports"]}
    assert {53, 5672, 5671, 6379, 443, 8443} <= egress_ports


def test_helm_test_pod_checks_the_configuration(default_manifests: list) -> None:
    (pod,) = of_kind(default_manifests, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (c,) = pod["spec"]["containers"]
    assert c["args"] == ["config", "check", "--connect"]
    env = env_of(c)
    assert env["ALCYON_CONFIG"] == "/etc/alcyon/alcyon.toml"
    assert {"ALCYON_BROKER_URL_FILE", "ALCYON_STATE_URL_FILE"} <= set(env)
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["config"]["configMap"]["name"] == f"{RELEASE}-alcyon-config"


# -- one process at a time: ordered processors, ReadWriteOnce volumes ---------------------------
def test_ordered_processors_are_the_installed_ordered_ones(values: dict) -> None:
    """The chart's list (it cannot ask the plugins) must be what the installed plugins declare."""
    host = PluginHost(load_config(env={})).load_entry_points()
    assert sorted(values["orderedProcessors"]) == sorted(p.name for p in host.processors() if p.ordered)


def fail_message(helm_bin, tmp_path: Path, values: dict[str, Any]) -> str:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    result = helm_bin("template", RELEASE, str(CHART), "-f", str(path), check=False)
    assert result.returncode != 0, "the chart must refuse these values"
    return " ".join(result.stderr.split())


GEOFENCE = {"name": "geofence", "processors": ["geofence"], "replicas": 1, "threads": 2}


@pytest.mark.parametrize("change, fix", [
    ({"replicas": 2}, "set replicas to 1 (it is 2)"),
    ({"keda": {"enabled": True}}, "KEDA would start more replicas: set workers[geofence].keda.enabled=false"),
    ({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}},
     "a rolling update with maxSurge 1 starts the new pod beside the old one; use strategy {type: Recreate}"),
])
def test_ordered_group_in_two_processes_is_refused_saying_why(helm_bin, tmp_path: Path, change: dict,
                                                              fix: str) -> None:
    message = fail_message(helm_bin, tmp_path, {"workers": [{**GEOFENCE, **change}]})
    assert "workers[geofence] must run in one process at a time, because processor geofence is ordered: its " \
           "batches must be handled in delivery order, which holds within one process only" in message
    assert fix in message


def test_ordered_group_may_roll_without_surge(render, tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    path.write_text(yaml.safe_dump({"workers": [{**GEOFENCE, "strategy": strategy}]}))
    (d,) = worker_deployments(render(path))
    assert d["spec"]["strategy"] == strategy


def test_shared_read_write_once_claim_is_refused_saying_why(helm_bin, tmp_path: Path) -> None:
    notify = {"name": "notify", "processors": ["notify"], "replicas": 1, "threads": 2}  # no claim of its own
    message = fail_message(helm_bin, tmp_path, {"dataVolume": {"existingClaim": "alcyon-data"},
                                                "workers": [GEOFENCE, notify]})
    assert "dataVolume.existingClaim alcyon-data is ReadWriteOnce (dataVolume.accessMode) and would be mounted by " \
           "the pods of 2 groups (geofence, notify): a ReadWriteOnce volume attaches to one node" in message
    assert "workers[].persistence.enabled: true" in message


def test_read_write_once_group_cannot_scale(helm_bin, tmp_path: Path) -> None:
    notify = {"name": "notify", "processors": ["notify"], "replicas": 3, "threads": 2,
              "persistence": {"enabled": True}}
    message = fail_message(helm_bin, tmp_path, {"workers": [GEOFENCE, notify]})
    assert "workers[notify] must run in one process at a time, because its data volume (claim " \
           f"{RELEASE}-alcyon-notify-data) is ReadWriteOnce" in message and "set replicas to 1 (it is 3)" in message


def test_concurrent_groups_keep_a_surging_rollout(all_manifests: list) -> None:
    d = deployments_by_group(all_manifests)["alerts"]
    assert d["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    assert deployments_by_group(all_manifests)["geofence"]["spec"]["strategy"] == {"type": "Recreate"}


# -- TLS, sources ---------------------------------------------------------------------------------
def test_broker_ca_reaches_every_pod(all_manifests: list, all_values: dict) -> None:
    for name, spec in pod_specs(all_manifests):
        files = {item["path"]: src["secret"]["name"] for v in spec["volumes"] if v["name"] == "secrets"
                 for src in v["projected"]["sources"] for item in src["secret"]["items"]}
        assert files["amqp_ca.crt"] == all_values["secrets"]["brokerCA"]["name"], name
        for c in spec.get("initContainers", []) + spec["containers"]:
            assert env_of(c)["ALCYON_AMQP_CA_FILE"] == "/run/secrets/alcyon/amqp_ca.crt", name
    for d in worker_deployments(all_manifests):  # KEDA reads tls=enable from the scale target's container
        assert env_of(container(d))["KEDA_RABBITMQ_TLS"] == "enable"


def test_ingest_sources_with_a_load_balancer(all_manifests: list, all_values: dict) -> None:
    sources = {d["metadata"]["labels"]["alcyon/source"]: d for d in of_kind(all_manifests, "Deployment")
               if d["metadata"]["labels"]["app.kubernetes.io/component"] == "ingest"}
    assert set(sources) == {"ais-lb", "ais-file"}
    (c,) = sources["ais-lb"]["spec"]["template"]["spec"]["containers"]
    assert c["args"] == ["ingest", "ais", "--input", "udp://0.0.0.0:10110",
                         "--input", "tcp://receiver.example.org:5631"]
    assert {"name": "nmea-udp", "containerPort": 10110, "protocol": "UDP"} in c["ports"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "ALCYON_STATE_URL_FILE" not in env_of(c), "sources publish only"
    (service,) = of_kind(all_manifests, "Service")
    assert service["metadata"]["name"] == f"{RELEASE}-alcyon-ingest-ais-lb"
    assert service["metadata"]["annotations"] == {"service.beta.kubernetes.io/scw-loadbalancer-type": "LB-S"}
    assert service["spec"]["type"] == "LoadBalancer" and service["spec"]["externalTrafficPolicy"] == "Local"
    assert service["spec"]["ports"] == [{"name": "nmea-udp", "port": 10110, "targetPort": "nmea-udp",
                                         "protocol": "UDP"}]
    assert service["spec"]["selector"].items() <= sources["ais-lb"]["spec"]["template"]["metadata"]["labels"].items()
    assert not service["spec"]["selector"].items() <= \
        sources["ais-file"]["spec"]["template"]["metadata"]["labels"].items()


# -- example values for French clouds --------------------------------------------------------------
EXAMPLES = sorted((CHART / "examples").glob("*.yaml"))


def test_examples_exist() -> None:
    assert {p.name for p in EXAMPLES} >= {"kapsule-fr-par.yaml", "ovhcloud-gra.yaml"}


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_values_lint_render_and_validate(helm_bin, render, example: Path) -> None:
    result = helm_bin("lint", "--strict", str(CHART), "-f", str(example))
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout
    manifests = render(example)
    for m in manifests:
        if m["kind"] not in CRD_KINDS:
            kubernetes_validate.validate(m, KUBERNETES_VERSIONS[-1], strict=True)
    assert deployments_by_group(manifests)["geofence"]["spec"]["strategy"] == {"type": "Recreate"}
    assert of_kind(manifests, "Service"), "AIS receivers need somewhere to push to"
