"""deploy/kubernetes: every resource the kustomization lists is valid against the Kubernetes schemas
(kubernetes-validate, offline, strict: an unknown or misspelt field fails), and each pod holds only the privileges
the manifests explain: the web, workers and migrations run restricted; only the sandbox and serving hosts touch
the node (Docker socket, host pid namespace, root), and only on the sandbox nodes."""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml

from tests.deploy.conftest import ROOT

FOLDER = ROOT / "deploy" / "kubernetes"
# The oldest Kubernetes the manifests promise to work on (policy/v1 PodDisruptionBudget, batch/v1 Job TTL, the
# namespace name label for NetworkPolicies: 1.21+); and the newest the schemas ship.
VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
WORKLOADS = ("Deployment", "StatefulSet", "Job")
HOST_TOUCHING = {"sandbox-worker", "serving"}


def kustomization() -> dict:
    return yaml.safe_load((FOLDER / "kustomization.yaml").read_text())


def resources() -> list[tuple[str, dict]]:
    found = []
    for name in kustomization()["resources"]:
        for doc in yaml.safe_load_all((FOLDER / name).read_text()):
            if doc:
                found.append((name, doc))
    return found


def pod_spec(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]


def by_name(kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for _file, doc in resources() if doc["kind"] == kind}


@pytest.mark.parametrize("version", VERSIONS)
def test_every_resource_is_valid_against_the_kubernetes_schemas(version):
    listed = kustomization()["resources"]
    assert sorted(listed) == sorted(p.name for p in FOLDER.glob("*.yaml") if p.name != "kustomization.yaml"), \
        "every manifest in deploy/kubernetes is listed in kustomization.yaml"
    checked = []
    for name, doc in resources():
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name}: {doc['kind']} {doc['metadata']['name']} is not valid on Kubernetes {version}: "
                        f"{exc.message} at {'/'.join(map(str, exc.path))}")
        checked.append(f"{doc['kind']}/{doc['metadata']['name']}")
    assert {"Deployment/web", "Deployment/worker", "StatefulSet/sandbox-worker", "StatefulSet/serving",
            "Job/govmarket-migrate", "Ingress/govmarket", "ConfigMap/govmarket-config"} <= set(checked), checked


def test_the_validator_catches_a_wrong_manifest():
    """The check above can fail: a misspelt field and a wrong type are refused."""
    web = by_name("Deployment")["web"]
    broken = yaml.safe_load(yaml.safe_dump(web))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/readyz"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)
    broken = yaml.safe_load(yaml.safe_dump(web))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)


def test_each_pod_holds_only_the_privileges_it_needs():
    workloads = {doc["metadata"]["name"]: doc for _f, doc in resources() if doc["kind"] in WORKLOADS}
    assert set(workloads) == {"web", "worker", "sandbox-worker", "serving", "govmarket-migrate"}
    for name, doc in workloads.items():
        spec = pod_spec(doc)
        assert spec["automountServiceAccountToken"] is False, f"{name} needs no Kubernetes API access"
        host_paths = {v["hostPath"]["path"] for v in spec.get("volumes", []) if "hostPath" in v}
        (container,) = spec["containers"]
        assert container["image"] == "govmarket", f"{name}: one platform image, set by kustomize's images:"
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert not container["securityContext"].get("privileged"), f"{name} is never privileged"
        assert "memory" in container["resources"]["limits"], f"{name} has a memory limit"
        # Every process of the image writes its metrics to PROMETHEUS_MULTIPROC_DIR and will not start without it.
        empty = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        metrics_dir = by_name("ConfigMap")["govmarket-config"]["data"]["PROMETHEUS_MULTIPROC_DIR"]
        assert any(m["mountPath"] == metrics_dir and m["name"] in empty for m in container["volumeMounts"]), name
        if name in HOST_TOUCHING:
            assert spec["hostPID"] is True and container["securityContext"]["runAsUser"] == 0
            assert host_paths == {"/var/run/docker.sock", "/var/lib/govmarket-sandbox/runs", "/sys/fs/cgroup"}
            mounts = {m["name"]: m for m in container["volumeMounts"]}
            runs = next(v for v in spec["volumes"] if v["name"] == "runs")
            assert mounts["runs"]["mountPath"] == runs["hostPath"]["path"], "the runs folder: same path on the node"
            assert mounts["cgroup"]["readOnly"] is True and mounts["bundles"]["readOnly"] is True
            assert spec["nodeSelector"] == {"govmarket.gov.cn/sandbox-host": "true"}, f"{name} only on sandbox nodes"
            assert spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        else:
            assert not host_paths and not spec.get("hostPID") and not spec.get("hostNetwork"), name
            assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] == 10001
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
            assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_probes_migrations_config_and_secrets_are_wired():
    deployments, statefulsets = by_name("Deployment"), by_name("StatefulSet")
    web = pod_spec(deployments["web"])["containers"][0]
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    env = {e["name"]: e.get("value") for e in web["env"]}
    assert env["GOVMARKET_SERVING_URL"] == "registry" and env["GOVMARKET_TRUSTED_PROXY_HOPS"] == "1"
    serving = pod_spec(statefulsets["serving"])["containers"][0]
    assert serving["readinessProbe"]["tcpSocket"]["port"] == "https" and serving["livenessProbe"]
    advertise = serving["command"][serving["command"].index("--advertise") + 1]
    assert advertise == f"https://$(POD_NAME).{statefulsets['serving']['spec']['serviceName']}.govmarket.svc:8090"
    assert kustomization()["namespace"] == "govmarket"

    job = by_name("Job")["govmarket-migrate"]
    assert pod_spec(job)["containers"][0]["command"] == ["govmarket", "db", "upgrade", "heads"]
    assert pod_spec(job)["restartPolicy"] == "Never"

    # Every platform process reads the same ConfigMap and the generated Secret, whose keys the example lists.
    generated = {g["name"]: g for g in kustomization()["secretGenerator"]}["govmarket-secrets"]
    assert generated["envs"] == ["secrets.env"]
    example = [line.split("=", 1)[0] for line in (FOLDER / "secrets.env.example").read_text().splitlines()
               if line and not line.startswith("#")]
    assert {"GOVMARKET_SECRET_KEY", "GOVMARKET_SERVING_SECRET", "DATABASE_URL", "REDIS_URL"} <= set(example)
    for name, doc in [*deployments.items(), *statefulsets.items(), ("migrate", job)]:
        sources = pod_spec(doc)["containers"][0]["envFrom"]
        assert {"configMapRef": {"name": "govmarket-config"}} in sources, name
        assert {"secretRef": {"name": "govmarket-secrets"}} in sources, name
    config = by_name("ConfigMap")["govmarket-config"]["data"]
    assert config["GOVMARKET_ENV"] == "production" and config["GOVMARKET_QUEUE_MODE"] == "rq"
    assert not {"GOVMARKET_SECRET_KEY", "DATABASE_URL", "REDIS_URL"} & set(config), "secrets stay in the Secret"
    assert not (FOLDER / "secrets.env").exists() or ".gitignore" in {p.name for p in FOLDER.iterdir()}
