"""`make chart`: lint, render and validate the Helm chart offline with the real Helm engine.

* `helm lint --strict` (helm-python-sdk bundles the Helm Go SDK) with the default values;
* render with the default values and with each `deploy/helm/parley/ci/*.yaml` scenario;
* validate every rendered object against the Kubernetes OpenAPI schemas of 1.29 and of the newest
  version kubernetes-validate bundles (strict: unknown fields are errors); CRDs (PodMonitor) are skipped;
* check values.schema.json rejects invalid values with a message naming the field;
* hadolint every Dockerfile.
Exit code 1 on the first class of failure, with every problem listed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[4]
CHART = ROOT / "deploy" / "helm" / "parley"
KUBE_VERSIONS = ["1.29.0", "newest"]
# Prometheus Operator kinds are not in the Kubernetes schemas (tests/deploy/test_alerts.py checks the rules).
CRD_KINDS = {"PodMonitor", "ServiceMonitor", "PrometheusRule"}

# (description, values override, text the error must contain)
INVALID_VALUES: list[tuple[str, dict[str, Any], str]] = [
    ("replicas of the wrong type", {"services": {"history": {"replicas": "two"}}}, "/services/history/replicas"),
    ("a port out of range", {"services": {"rooms": {"port": 70000}}}, "/services/rooms/port"),
    ("no database secret and no url", {"postgres": {"existingSecret": "", "url": ""}}, "/postgres"),
    ("no API key secret", {"apiKeys": {"existingSecret": "", "value": ""}}, "/apiKeys"),
    ("live providers without their secret", {"agent": {"existingSecret": ""}}, "/agent"),
    ("an unknown service", {"services": {"billing": {"enabled": True}}}, "billing"),
    ("a provider mode that does not exist", {"agent": {"providers": "magic"}}, "/agent/providers"),
    ("a load threshold above the whole CPU", {"agent": {"loadThreshold": 1.5}}, "/agent/loadThreshold"),
    ("a negative per-call memory limit", {"agent": {"jobMemoryLimitMb": -1}}, "/agent/jobMemoryLimitMb"),
    ("a signed link longer than S3 allows", {"blob": {"linkMaxSeconds": 604801}}, "/blob/linkMaxSeconds"),
    (
        "persistence without a size",
        {"services": {"agent": {"persistence": {"enabled": True, "size": None}}}},
        "/services/agent/persistence",
    ),
    (
        "a volume size Kubernetes cannot read",
        {"services": {"agent": {"persistence": {"enabled": True, "size": "2 GB"}}}},
        "/services/agent/persistence/size",
    ),
]


def scenarios() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {"default": {}}
    for path in sorted((CHART / "ci").glob("*.yaml")):
        found[path.stem] = yaml.safe_load(path.read_text()) or {}
    return found


def lint(values: dict[str, Any]) -> list[str]:
    import helm_python as helm

    result = helm.lint(str(CHART), values, strict=True)
    return [f"{m.get('severity')}: {m.get('path')}: {m.get('error')}" for m in result.get("messages", [])] + [
        str(e) for e in result.get("errors", [])
    ]


def render(values: dict[str, Any], namespace: str = "voice") -> list[dict[str, Any]]:
    import helm_python as helm

    with helm.Chart.load(str(CHART)) as chart:
        files = chart.render(values, name="parley", namespace=namespace, is_install=True)
    objects = []
    for name, text in files.items():
        if name.endswith("NOTES.txt"):
            continue
        objects += [doc for doc in yaml.safe_load_all(text) if doc]
    return objects


def schema_error(values: dict[str, Any]) -> str | None:
    """The schema's complaint about `values`, or None when they are accepted."""
    import helm_python as helm

    with helm.Chart.load(str(CHART)) as chart:
        try:
            chart.render(values, name="parley", namespace="voice", is_install=True)
        except Exception as exc:
            return str(exc)
    return None


def validate(objects: list[dict[str, Any]], version: str) -> list[str]:
    import kubernetes_validate

    if version == "newest":
        version = kubernetes_validate.latest_version()
    problems = []
    for obj in objects:
        if obj.get("kind") in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except Exception as exc:
            problems.append(f"k8s {version} {obj.get('kind')}/{obj.get('metadata', {}).get('name')}: {exc}")
    return problems


def hadolint() -> list[str]:
    binary = Path(sys.executable).parent / "hadolint"
    problems = []
    for dockerfile in [ROOT / "deploy" / "Dockerfile"]:
        run = subprocess.run([str(binary), str(dockerfile)], capture_output=True, text=True, check=False)
        if run.returncode != 0:
            problems.append(f"{dockerfile.relative_to(ROOT)}: {run.stdout.strip()}")
    return problems


def main() -> int:
    problems: list[str] = []
    problems += [f"lint: {p}" for p in lint({})]
    for name, values in scenarios().items():
        objects = render(values)
        kinds = sorted({o["kind"] for o in objects})
        print(f"rendered {name}: {len(objects)} objects ({', '.join(kinds)})")
        for version in KUBE_VERSIONS:
            problems += [f"{name}: {p}" for p in validate(objects, version)]
    for description, values, mention in INVALID_VALUES:
        error = schema_error(values)
        if error is None or mention not in error:
            problems.append(f"schema accepted {description} (or did not name {mention!r}): {error}")
        else:
            print(f"schema rejects {description}: ...{mention}...")
    problems += hadolint()
    for p in problems:
        print(f"FAIL {p}")
    print("chart: ok" if not problems else f"chart: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
