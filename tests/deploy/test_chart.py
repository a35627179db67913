"""The Helm chart, rendered and validated offline with the real Helm engine and the Kubernetes schemas."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from parley_devstack import chart

from .conftest import by_component as _by

SCENARIOS = chart.scenarios()


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {name: chart.render(values) for name, values in SCENARIOS.items()}


def test_the_chart_lints_clean_in_strict_mode() -> None:
    assert chart.lint({}) == []


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("version", chart.KUBE_VERSIONS)
def test_every_scenario_renders_objects_valid_for_kubernetes(
    rendered: dict[str, list[dict[str, Any]]], scenario: str, version: str
) -> None:
    objects = rendered[scenario]
    assert objects
    assert chart.validate(objects, version) == []


@pytest.mark.parametrize(
    ("description", "values", "mention"), chart.INVALID_VALUES, ids=[i[0] for i in chart.INVALID_VALUES]
)
def test_the_schema_rejects_invalid_values_naming_the_field(
    description: str, values: dict[str, Any], mention: str
) -> None:
    error = chart.schema_error(values)
    assert error is not None, description
    assert mention in error


def test_the_agent_has_no_inbound_service_drains_ten_minutes_and_a_read_only_root(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    objects = rendered["default"]
    assert _by(objects, "Service", "agent") == []
    (agent,) = _by(objects, "Deployment", "agent")
    pod = agent["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] >= 600
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    for path in ("/tmp", "/var/lib/parley"):
        assert "emptyDir" in volumes[mounts[path]], path
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"


def test_an_api_stays_in_its_service_while_nats_is_down(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for name in ("history", "rooms", "recordings"):
        (deployment,) = _by(rendered["default"], "Deployment", name)
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/ready?require=postgres", name


def test_credentials_come_from_secrets_and_nothing_secret_is_rendered_by_default(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    objects = rendered["default"]
    assert [o for o in objects if o["kind"] == "Secret"] == []
    for deployment in (o for o in objects if o["kind"] == "Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            for env in container.get("env", []):
                if any(word in env["name"] for word in ("PASSWORD", "API_KEY", "SECRET", "DATABASE_URL")):
                    assert "valueFrom" in env, env["name"]


def test_hooks_migrate_and_provision_before_install_and_upgrade(rendered: dict[str, list[dict[str, Any]]]) -> None:
    (job,) = [o for o in rendered["default"] if o["kind"] == "Job"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    steps = [c["name"] for c in job["spec"]["template"]["spec"]["initContainers"]]
    assert steps[0] == "provision"
    assert {"migrate-rooms", "migrate-history"} <= set(steps)
    tests = [o for o in rendered["default"] if o["kind"] == "Pod"]
    assert tests and tests[0]["metadata"]["annotations"]["helm.sh/hook"] == "test"


def test_autoscaling_scenario_has_hpas_pdbs_and_pod_monitors(rendered: dict[str, list[dict[str, Any]]]) -> None:
    kinds = [o["kind"] for o in rendered["production-autoscaling"]]
    assert kinds.count("HorizontalPodAutoscaler") == 3
    assert kinds.count("PodMonitor") == 7  # one per service (the DLQ copier has no HTTP port)
    agent = _by(rendered["production-autoscaling"], "StatefulSet", "agent")[0]
    assert "replicas" not in agent["spec"]  # the HPA owns it


def test_agents_with_persistence_keep_a_state_claim_per_pod_and_others_an_empty_dir(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    objects = rendered["production-autoscaling"]
    assert _by(objects, "Deployment", "agent") == []
    (agent,) = _by(objects, "StatefulSet", "agent")
    (claim,) = agent["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "state"
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert claim["spec"]["storageClassName"] == "fast-ssd"
    pod = agent["spec"]["template"]["spec"]
    assert "state" not in {v["name"] for v in pod["volumes"]}  # the claim, not an emptyDir
    assert {"name": "state", "mountPath": "/var/lib/parley"} in pod["containers"][0]["volumeMounts"]
    assert {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}["AGENT_STATE_DIR"] == "/var/lib/parley"
    assert pod["securityContext"]["fsGroup"] == 10001  # the claim is writable by the non-root user
    (hpa,) = [o for o in objects if o["kind"] == "HorizontalPodAutoscaler" and o["metadata"]["name"].endswith("agent")]
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "StatefulSet"
    assert _by(objects, "Deployment", "rooms") and _by(rendered["default"], "Deployment", "agent")


def test_rooms_with_persistence_keep_their_outbox_spill_on_a_claim_per_pod() -> None:
    objects = chart.render({"services": {"rooms": {"persistence": {"enabled": True, "size": "1Gi"}}}})
    assert _by(objects, "Deployment", "rooms") == []
    (rooms,) = _by(objects, "StatefulSet", "rooms")
    (claim,) = rooms["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    container = rooms["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "state", "mountPath": "/var/lib/parley"} in container["volumeMounts"]
    assert _env(container)["ROOMS_STATE_DIR"] == "/var/lib/parley"  # where its outbox spills and replays from
    assert chart.validate(objects, chart.KUBE_VERSIONS[0]) == []


def test_prometheus_scrapes_with_the_scrape_key_every_service_is_given() -> None:
    for enabled in (True, False):
        objects = chart.render({"serviceMonitor": {"enabled": enabled}})
        workloads = [
            o for o in objects if o["kind"] in {"Deployment", "StatefulSet"} and "dlq" not in o["metadata"]["name"]
        ]
        assert len(workloads) == 7
        for workload in workloads:
            (env,) = [
                e for e in workload["spec"]["template"]["spec"]["containers"][0]["env"] if "METRICS_KEYS" in e["name"]
            ]
            ref = env["valueFrom"]["secretKeyRef"]
            assert (ref["name"], ref["key"]) == ("parley-api-keys", "metrics-key")
            assert ref["optional"] is not enabled  # Prometheus needs it: a pod without it must not start unnoticed
        monitors = [o for o in objects if o["kind"] == "PodMonitor"]
        assert len(monitors) == (7 if enabled else 0)
        for monitor in monitors:
            (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
            assert endpoint["authorization"] == {
                "type": "Bearer",
                "credentials": {"name": "parley-api-keys", "key": "metrics-key"},
            }


def test_retention_settings_reach_history_recordings_and_rooms(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for scenario, history_days, recordings_days, rooms_days, key_hours in (
        ("default", "0", "0", "0", "24"),
        ("production-autoscaling", "365", "90", "400", "48"),
    ):
        objects = rendered[scenario]
        (history,) = _by(objects, "Deployment", "history")
        (recordings,) = _by(objects, "Deployment", "recordings")
        (rooms,) = _by(objects, "Deployment", "rooms")
        assert _env(history["spec"]["template"]["spec"]["containers"][0])["HISTORY_RETENTION_DAYS"] == history_days
        recordings_env = _env(recordings["spec"]["template"]["spec"]["containers"][0])
        assert recordings_env["RECORDINGS_RETENTION_DAYS"] == recordings_days
        rooms_env = _env(rooms["spec"]["template"]["spec"]["containers"][0])
        assert (rooms_env["ROOMS_RETENTION_DAYS"], rooms_env["ROOMS_IDEMPOTENCY_KEY_HOURS"]) == (rooms_days, key_hours)


def test_signed_link_settings_reach_recordings(rendered: dict[str, list[dict[str, Any]]]) -> None:
    names = ("RECORDINGS_BLOB_S3_ENDPOINT", "RECORDINGS_BLOB_S3_PUBLIC_ENDPOINT", "RECORDINGS_LINK_MAX_SECONDS")
    for scenario, expected in (
        ("default", (None, None, "3600")),
        ("dev-inline-secrets", ("http://minio:9000", "http://localhost:9000", "900")),
    ):
        (recordings,) = _by(rendered[scenario], "Deployment", "recordings")
        env = _env(recordings["spec"]["template"]["spec"]["containers"][0])
        assert tuple(env.get(name) for name in names) == expected, scenario


def test_agent_capacity_settings_reach_the_agent(rendered: dict[str, list[dict[str, Any]]]) -> None:
    names = ("AGENT_LOAD_THRESHOLD", "AGENT_IDLE_PROCESSES", "AGENT_JOB_MEMORY_WARN_MB", "AGENT_JOB_MEMORY_LIMIT_MB")
    for scenario, expected in (
        ("default", ("0.7", None, "1000", "0")),  # idle processes unset: LiveKit's default
        ("production-autoscaling", ("0.6", "2", "1000", "1500")),
    ):
        objects = rendered[scenario]
        (agent,) = _by(objects, "Deployment", "agent") + _by(objects, "StatefulSet", "agent")  # with persistence
        env = _env(agent["spec"]["template"]["spec"]["containers"][0])
        assert tuple(env.get(name) for name in names) == expected, scenario


def test_dockerfiles_are_hadolint_clean() -> None:
    assert chart.hadolint() == []


def test_dev_infrastructure_for_tilt_is_valid_kubernetes() -> None:
    docs = [d for d in yaml.safe_load_all((chart.ROOT / "deploy" / "tilt" / "infra.yaml").read_text()) if d]
    assert chart.validate(docs, "1.29.0") == []


def _env(container: dict[str, Any]) -> dict[str, str]:
    """A container's environment as the process would see it; values from Secrets become placeholders (a
    database URL a URL: the settings check its scheme)."""

    def secret(name: str) -> str:
        return "postgresql://from-a-secret/parley" if name.endswith("DATABASE_URL") else "from-a-secret"

    return {e["name"]: str(e["value"]) if "value" in e else secret(e["name"]) for e in container.get("env", [])}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_process_the_chart_runs_accepts_its_environment(
    rendered: dict[str, list[dict[str, Any]]], scenario: str
) -> None:
    """A renamed setting or a misspelt variable fails the service at start-up; here it fails the chart."""
    from parley_agent.settings import load as load_agent
    from parley_history.settings import load as load_history
    from parley_recordings.settings import load as load_recordings
    from parley_rooms.settings import load as load_rooms
    from parley_runtime.messaging.connection import NatsSettings
    from parley_runtime.messaging.provision import ProvisionSettings
    from parley_runtime.settings import load_settings

    def nats(env: dict[str, str]) -> None:  # what the `parley` CLI reads: the DLQ copier needs no more
        load_settings(NatsSettings, "PARLEY_NATS_", env)

    def provision(env: dict[str, str]) -> None:  # `parley provision`: NATS and the provisioning knobs
        nats(env)
        load_settings(ProvisionSettings, "PARLEY_PROVISION_", env)

    loaders: dict[str, Any] = {
        "provision": provision,
        "agent": load_agent,
        "history": load_history,
        "recordings": load_recordings,
        "rooms": load_rooms,
        "dlq-copier": nats,
    }
    checked = []
    for obj in rendered[scenario]:
        if obj["kind"] not in ("Deployment", "StatefulSet", "Job"):
            continue
        pod = obj["spec"]["template"]["spec"]
        for container in pod.get("initContainers", []) + pod["containers"]:
            name = container["name"].removeprefix("migrate-")
            if name in loaders:
                loaders[name](_env(container))  # raises SettingsError naming the variable
                checked.append(container["name"])
    assert {"agent", "history", "recordings", "rooms", "dlq-copier"} <= set(checked) or scenario != "default"
    assert checked, scenario


@pytest.mark.parametrize("scenario", ["default", "production-autoscaling"])
def test_every_setting_the_chart_gives_a_service_is_one_it_reads(
    rendered: dict[str, list[dict[str, Any]]], scenario: str
) -> None:
    """A service refuses an unknown `<PREFIX>_*` variable at start: a typo in the chart would be a crash loop."""
    import importlib

    for workload in [o for o in rendered[scenario] if o["kind"] in {"Deployment", "StatefulSet"}]:
        component = workload["metadata"]["labels"]["app.kubernetes.io/component"]
        if component == "dlq-copier":
            continue
        fields = importlib.import_module(f"parley_{component}.settings").Settings.__struct_fields__
        prefix = f"{component.upper()}_"
        given = [e["name"] for e in workload["spec"]["template"]["spec"]["containers"][0]["env"]]
        unknown = [n for n in given if n.startswith(prefix) and n.removeprefix(prefix).lower() not in fields]
        assert not unknown, (component, unknown)
