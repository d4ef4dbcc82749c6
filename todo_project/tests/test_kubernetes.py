"""The Kubernetes manifests carry the contract's security context, probes and resources."""

import pytest
import yaml

from conftest import ROOT

MANIFESTS = ROOT / "deploy" / "kubernetes"


def load(name: str) -> dict:
    return yaml.safe_load((MANIFESTS / name).read_text())


@pytest.fixture(scope="module")
def pod() -> dict:
    return load("deployment.yaml")["spec"]["template"]["spec"]


def test_the_kustomization_applies_every_manifest_but_the_secret_template() -> None:
    resources = load("kustomization.yaml")["resources"]
    files = {path.name for path in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml", "secret.template.yaml"}

    assert set(resources) == files


def test_the_deployment_runs_two_replicas_with_a_rolling_update() -> None:
    spec = load("deployment.yaml")["spec"]

    assert spec["replicas"] == 2
    assert spec["strategy"]["type"] == "RollingUpdate"


def test_the_pod_runs_as_uid_1001_without_privileges(pod: dict) -> None:
    [container] = pod["containers"]

    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 1001,
        "runAsGroup": 1001,
        "fsGroup": 1001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["runAsNonRoot"] is True
    assert pod["terminationGracePeriodSeconds"] == 30


def test_the_container_has_the_contracts_resources_probes_and_port(pod: dict) -> None:
    [container] = pod["containers"]

    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "1000m", "memory": "1Gi"},
    }
    assert container["ports"][0]["containerPort"] == 8001
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] <= 60
    assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"


def test_secrets_come_from_the_secret_and_settings_from_the_configmap(pod: dict) -> None:
    [container] = pod["containers"]
    secret_env = {
        item["name"]: item["valueFrom"]["secretKeyRef"]["name"]
        for item in container["env"]
        if "valueFrom" in item
    }
    config = load("configmap.yaml")["data"]

    assert {"DATABASE_URL", "BETTER_AUTH_SECRET", "GROQ_API_KEY"} <= set(secret_env)
    assert set(secret_env.values()) == {"todo-backend-secrets"}
    assert container["envFrom"] == [{"configMapRef": {"name": "todo-backend-config"}}]
    assert not {"DATABASE_URL", "BETTER_AUTH_SECRET", "GROQ_API_KEY"} & set(config)
    assert "FRONTEND_URL" in config


def test_the_secret_template_holds_no_real_value() -> None:
    values = load("secret.template.yaml")["stringData"]

    assert all(value == "" or value.startswith("<") for value in values.values())
    assert {
        "DATABASE_URL",
        "MIGRATION_DATABASE_URL",
        "DJANGO_SECRET_KEY",
        "DJANGO_SECRET_KEY_PREVIOUS",
        "REDIS_URL",
    } <= set(values)


def test_the_network_policy_admits_8001_from_the_ingress_namespace_only() -> None:
    spec = load("networkpolicy.yaml")["spec"]
    [rule] = spec["ingress"]
    egress_ports = {port["port"] for rule in spec["egress"] for port in rule["ports"]}

    assert [port["port"] for port in rule["ports"]] == [8001]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    ]
    assert egress_ports == {53, 5432, 6379, 443}


def test_the_configmap_names_hosts_and_trusted_proxies() -> None:
    config = load("configmap.yaml")["data"]

    assert config["ALLOWED_HOSTS"] not in ("", "*")
    assert config["FORWARDED_ALLOW_IPS"]
    assert config["ADMIN_ENABLED"] in ("true", "false")


def test_the_pods_get_djangos_own_key_from_the_secret(pod: dict) -> None:
    [container] = pod["containers"]
    references = {
        item["valueFrom"]["secretKeyRef"]["key"]: item["valueFrom"]["secretKeyRef"]
        for item in container["env"]
        if "valueFrom" in item
    }

    assert {"DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY_PREVIOUS"} <= set(references)
    # A deployment without its own key would sign admin sessions with one
    # derived from BETTER_AUTH_SECRET: a pod does not start without it.
    assert references["DJANGO_SECRET_KEY"].get("optional", False) is False
    assert references["DJANGO_SECRET_KEY_PREVIOUS"]["optional"] is True
    assert "MIGRATION_DATABASE_URL" not in references


def test_the_migration_job_migrates_as_the_schema_owner_with_the_same_security_context() -> None:
    job = load("migration-job.yaml")["spec"]["template"]["spec"]
    [container] = job["containers"]
    database_url = next(item for item in container["env"] if item["name"] == "DATABASE_URL")

    assert container["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert database_url["valueFrom"]["secretKeyRef"]["key"] == "MIGRATION_DATABASE_URL"
    assert job["securityContext"]["runAsUser"] == 1001
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_the_worker_runs_the_same_image_and_secrets_as_the_api(pod: dict) -> None:
    worker = load("worker-deployment.yaml")
    spec = worker["spec"]["template"]["spec"]
    [container] = spec["containers"]
    [api] = pod["containers"]

    assert worker["spec"]["replicas"] == 1
    assert worker["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "worker"
    assert container["command"] == ["python", "manage.py", "run_worker"]
    assert container["image"] == api["image"]
    assert container["env"] == api["env"]
    assert container["envFrom"] == api["envFrom"]
    assert container["securityContext"] == api["securityContext"]
    assert spec["securityContext"] == pod["securityContext"]
    assert "ports" not in container
    # The API pods leave reminders to it.
    assert load("configmap.yaml")["data"]["RUN_WORKER"] == "false"
    # The API's Service and disruption budget do not pick up the worker.
    assert load("service.yaml")["spec"]["selector"]["app.kubernetes.io/component"] == "api"
