"""The chart hands recordings its blob store's credentials from `blob.existingSecret`, in the form obstore
reads for the store the URL names. The names are the ones the recordings tests give obstore against real
stores (`tests/recordings/conftest.py`: Azurite's account, the GCS stand-in's key file), so a store the chart
configures is one those tests opened."""

from __future__ import annotations

from typing import Any

import pytest

from parley_devstack import chart

from .conftest import by_component


def _recordings(values: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Recordings' Deployment and every object, rendered with `values` and valid for Kubernetes."""
    objects = chart.render(values)
    assert chart.validate(objects, chart.KUBE_VERSIONS[0]) == []
    (recordings,) = by_component(objects, "Deployment", "recordings")
    return recordings, objects


def _from_secret(container: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {
        e["name"]: (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
        for e in container["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://recordings/parley", {"RECORDINGS_BLOB_ACCESS_KEY_ID": "access-key-id",
                                    "RECORDINGS_BLOB_SECRET_ACCESS_KEY": "secret-access-key"}),
        ("az://recordings/parley", {"AZURE_STORAGE_ACCOUNT_NAME": "account-name",
                                    "AZURE_STORAGE_ACCOUNT_KEY": "account-key"}),
        ("abfss://recordings@acct.dfs.core.windows.net/parley", {"AZURE_STORAGE_ACCOUNT_NAME": "account-name",
                                                                 "AZURE_STORAGE_ACCOUNT_KEY": "account-key"}),
        ("gs://recordings/parley", {}),
        ("file:///var/lib/parley/blobs", {}),
    ],
)  # fmt: skip
def test_each_store_takes_its_own_keys_from_the_secret(url: str, expected: dict[str, str]) -> None:
    recordings, _ = _recordings({"blob": {"url": url, "existingSecret": "blob-credentials"}})
    container = recordings["spec"]["template"]["spec"]["containers"][0]
    blob_keys = {name: key for name, (secret, key) in _from_secret(container).items() if secret == "blob-credentials"}
    assert blob_keys == expected


def test_a_gcs_key_file_is_mounted_read_only_where_google_service_account_points() -> None:
    recordings, objects = _recordings({"blob": {"url": "gs://recordings/parley", "existingSecret": "blob-credentials"}})
    pod = recordings["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "gcs-key"]
    assert mount["readOnly"] is True
    assert env["GOOGLE_SERVICE_ACCOUNT"] == f"{mount['mountPath']}/service-account.json"
    (volume,) = [v for v in pod["volumes"] if v["name"] == "gcs-key"]
    assert volume["secret"] == {
        "secretName": "blob-credentials",
        "items": [{"key": "service-account.json", "path": "service-account.json"}],
    }
    # Only recordings holds it: no other workload mounts the key or names it.
    others = [o for o in objects if o["kind"] in ("Deployment", "StatefulSet") and o is not recordings]
    assert others and all("gcs-key" not in str(o) and "GOOGLE_SERVICE_ACCOUNT" not in str(o) for o in others)


def test_without_a_secret_the_pod_uses_its_cloud_identity() -> None:
    for url in ("s3://recordings/parley", "az://recordings/parley", "gs://recordings/parley"):
        recordings, _ = _recordings({"blob": {"url": url}})
        pod = recordings["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert not any(n.startswith(("AZURE_", "GOOGLE_", "RECORDINGS_BLOB_ACCESS")) for n in _from_secret(container))
        assert "GOOGLE_SERVICE_ACCOUNT" not in str(container) and "gcs-key" not in str(pod)
