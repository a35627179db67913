"""The chart's Grafana dashboard: a ConfigMap the sidecar picks up, whose every query parses as PromQL and uses
only metrics and labels the running services export (the same probe as the alerts')."""

from __future__ import annotations

import json
import re
from typing import Any

import promql_parser as promql
import pytest

from parley_devstack import chart

from .test_alerts import TARGET_LABELS, _exported, _grouping, _selectors

# What Grafana puts in place of its variables before Prometheus sees a query.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$namespace": "parley"}


def _dashboards(values: dict[str, Any]) -> list[dict[str, Any]]:
    objects = chart.render(values)
    return [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-dashboard")]


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    (config_map,) = _dashboards({"grafanaDashboard": {"enabled": True}})
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"  # what the sidecar selects by
    return dict(json.loads(config_map["data"]["parley.json"]))


def _targets(dashboard: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(p["title"], t) for p in dashboard["panels"] if p["type"] != "row" for t in p["targets"]]


def _query(target: dict[str, Any]) -> Any:
    expr = str(target["expr"])
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return promql.parse(expr)


def test_the_dashboard_is_off_by_default_and_goes_where_the_sidecar_looks() -> None:
    assert _dashboards({}) == []
    (config_map,) = _dashboards({"grafanaDashboard": {"enabled": True, "namespace": "monitoring"}})
    assert config_map["metadata"]["namespace"] == "monitoring"


def test_every_panel_queries_the_chosen_prometheus_and_namespace(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] and {v["name"] for v in dashboard["templating"]["list"]} == {"datasource", "namespace"}
    targets = _targets(dashboard)
    assert len(targets) >= 12
    for title, target in targets:
        assert target["datasource"]["uid"] == "${datasource}", title
        query = _query(target)  # raises on a syntax error
        for selector in _selectors(query):
            assert 'namespace="$namespace"' in target["expr"] and selector.name.startswith("parley_"), title
        # A legend can only name labels the query keeps.
        assert set(re.findall(r"\{\{(\w+)\}\}", target["legendFormat"])) <= _grouping(query), title
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


@pytest.mark.slow
async def test_every_metric_and_label_a_panel_uses_is_exported(
    dashboard: dict[str, Any], nats_url: str, database_url: str
) -> None:
    exported = await _exported(nats_url, database_url)
    for title, target in _targets(dashboard):
        query = _query(target)
        available: set[str] = set(TARGET_LABELS)
        for selector in _selectors(query):
            assert selector.name in exported, f"{title}: {selector.name} is not exported"
            labels = {m.name for m in selector.matchers.matchers}
            assert labels <= exported[selector.name] | TARGET_LABELS, f"{title}: {selector.name} {labels}"
            available |= exported[selector.name]
        assert _grouping(query) <= available, title
