"""The Tiltfile parses and runs against stub Tilt builtins (no cluster, no Tilt binary here)."""

from __future__ import annotations

from typing import Any

import starlark_go
import yaml

from parley_devstack.chart import ROOT

# Starlark stubs of the Tilt API the Tiltfile uses: each records its call.
STUBS = """
CALLS = []
TRIGGER_MODE_MANUAL = "manual"
def _rec(kind, **kw):
    CALLS.append(dict(kind = kind, **kw))
def version_settings(constraint = ""): _rec("version_settings", constraint = constraint)
def allow_k8s_contexts(contexts): _rec("allow_k8s_contexts", contexts = contexts)
def docker_build(ref, context, dockerfile = "", target = "", only = [], live_update = [], build_args = {}):
    _rec("docker_build", ref = ref, dockerfile = dockerfile, target = target, live_update = live_update,
         build_args = build_args)
def fall_back_on(files): return dict(step = "fall_back_on", files = files)
def sync(src, dest): return dict(step = "sync", src = src, dest = dest)
def run(cmd, trigger = []): return dict(step = "run", cmd = cmd)
def helm(path, name = "", namespace = "", values = [], set = []):
    return dict(helm = path, values = values)
def k8s_yaml(y): _rec("k8s_yaml", y = y)
def k8s_resource(workload, port_forwards = [], resource_deps = [], labels = [], links = []):
    _rec("k8s_resource", workload = workload, port_forwards = port_forwards, resource_deps = resource_deps)
def local_resource(name, cmd, deps = [], auto_init = True, trigger_mode = "", allow_parallel = False, labels = []):
    _rec("local_resource", name = name, cmd = cmd)
def _define_string_list(name, args = False): _rec("config.define_string_list", name = name)
def _parse(): return {}
def _set_enabled_resources(names): _rec("config.set_enabled_resources", names = names)
"""


def _execute() -> list[dict[str, Any]]:
    source = (ROOT / "Tiltfile").read_text()
    # Tilt's `config` module is an object with methods; Starlark has no classes, so the Tiltfile's
    # `config.x(...)` calls are pointed at stub functions with a tiny source rewrite.
    for method in ("define_string_list", "parse", "set_enabled_resources"):
        source = source.replace(f"config.{method}(", f"_{method}(")
    # Tilt runs Tiltfiles with top-level if/for allowed, as this flag does.
    starlark_go.configure_starlark(allow_global_reassign=True)
    interpreter = starlark_go.Starlark()
    interpreter.exec(STUBS + "\n" + source, filename="Tiltfile")
    calls: list[dict[str, Any]] = interpreter.eval("CALLS")
    return calls


def test_the_tiltfile_builds_every_image_deploys_the_chart_and_forwards_the_apis() -> None:
    calls = _execute()
    builds = [c for c in calls if c["kind"] == "docker_build"]
    assert sorted(b["ref"] for b in builds) == [
        f"ghcr.io/parley/parley-{n}"
        for n in ("agent", "console", "history", "insights", "recordings", "rooms", "webhooks")
    ]
    assert all(b["target"] == "dev" and any(s["step"] == "sync" for s in b["live_update"]) for b in builds)
    # One Dockerfile, whose dev stage tests/house/test_images.py rebuilds and runs, built once per service.
    assert {b["dockerfile"] for b in builds} == {"deploy/Dockerfile"}
    assert sorted(b["build_args"]["SERVICE"] for b in builds) == [
        "agent",
        "console",
        "history",
        "insights",
        "recordings",
        "rooms",
        "webhooks",
    ]
    synced = {s["dest"] for b in builds for s in b["live_update"] if s["step"] == "sync"}
    assert synced == {"/app/libs", "/app/services"}
    deployed = [c["y"] for c in calls if c["kind"] == "k8s_yaml"]
    assert {"helm": "deploy/helm/parley", "values": ["deploy/helm/values-dev.yaml"]} in deployed
    resources = {c["workload"]: c for c in calls if c["kind"] == "k8s_resource"}
    assert resources["parley-history"]["port_forwards"] == ["8102:8102"]
    assert resources["parley-console"]["port_forwards"] == ["8100:8100"]
    assert resources["parley-agent"]["port_forwards"] == []
    assert "parley-migrate" in resources["parley-history"]["resource_deps"]
    assert {c["name"] for c in calls if c["kind"] == "local_resource"} == {"tests", "chart"}
    for path in ("deploy/helm/values-dev.yaml", "deploy/tilt/infra.yaml"):
        assert (ROOT / path).exists()


def test_the_tilt_livekit_sends_its_webhooks_to_rooms_signed_with_the_key_rooms_verifies() -> None:
    docs = list(yaml.safe_load_all((ROOT / "deploy" / "tilt" / "infra.yaml").read_text()))
    config = yaml.safe_load(next(d for d in docs if d["kind"] == "ConfigMap")["data"]["livekit.yaml"])
    secret = next(d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "parley-livekit")
    assert config["keys"] == {secret["stringData"]["api-key"]: secret["stringData"]["api-secret"]}
    assert config["webhook"]["api_key"] == secret["stringData"]["api-key"]
    assert config["webhook"]["urls"] == ["http://parley-rooms:8101/v1/livekit/webhook"]
    values = yaml.safe_load((ROOT / "deploy" / "helm" / "values-dev.yaml").read_text())
    assert values["services"]["rooms"]["port"] == 8101
