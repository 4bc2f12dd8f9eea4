"""The deployment files of the production profile (deploy/): offline checks, no cluster, no Docker.

Kubernetes: the production overlay renders with ``kubectl kustomize`` (skipped without kubectl) and
every workload has probes, resources and its secrets from the Secret ``dvc-secrets`` only; every
``${VAR}`` of endpoints.prod.yml reaches the Rasa container. Compose: the same variables reach the
application services, Rasa is replicated with a healthcheck, nginx proxies websockets without
stickiness. The Dockerfile runs as a non-root user and installs from requirements.lock.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import VARIABLES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAY = DEPLOY / "k8s" / "overlays" / "production"
SECRET_EXAMPLE = DEPLOY / "k8s" / "secrets.example.env"
COMPOSE_DIR = DEPLOY / "compose"
# Secrets that are URLs: their example holds change-me as the password, not as the whole value.
URLS_WITH_SECRETS = frozenset({"DATABASE_URL", "SOCKETIO_MESSAGE_QUEUE"})
SECRET_NAME = "dvc-secrets"
# The application's processes: the one image, a different command each.
APP_IMAGE = "registry.example.gov.vn/dvc/assistant"
SECRET_SUFFIXES = ("_PASSWORD", "_TOKEN", "_SECRET", "_SECRET_KEY", "_SALT")


def _strings(value: Any) -> list[str]:
    """Every string inside a parsed YAML value."""
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return [value] if isinstance(value, str) else []


def endpoint_variables() -> set[str]:
    """Every ``${VAR}`` a value of endpoints.prod.yml names (comments aside)."""
    parsed = yaml.safe_load((ROOT / "endpoints.prod.yml").read_text(encoding="utf-8"))
    return {name for text in _strings(parsed) for name in re.findall(r"\$\{(\w+)\}", text)}


def env_file_keys(path: Path, *, commented: bool = False) -> set[str]:
    """The keys of a ``KEY=value`` file; with ``commented``, also those of ``# KEY=value`` lines."""
    pattern = r"^\s*#?\s*([A-Z][A-Z0-9_]*)=" if commented else r"^\s*([A-Z][A-Z0-9_]*)="
    return {m.group(1) for line in path.read_text(encoding="utf-8").splitlines() if (m := re.match(pattern, line))}


def is_secret(name: str) -> bool:
    """Whether variable ``name`` holds a secret: declared so in bot/settings.py, or named like one."""
    declared = {v.name for v in VARIABLES if v.secret}
    return name in declared or name == "SEAL_KEY" or name == "DATABASE_URL" or name.endswith(SECRET_SUFFIXES)


# ---------------------------------------------------------------------------------------------
# Kubernetes


@cache
def _render() -> tuple[dict[str, Any], ...]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: cannot render deploy/k8s/overlays/production")
    done = subprocess.run([kubectl, "kustomize", str(OVERLAY)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"kubectl kustomize failed: {done.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


@pytest.fixture(scope="module")
def manifests() -> tuple[dict[str, Any], ...]:
    """The production overlay, rendered."""
    return _render()


def of_kind(docs: tuple[dict[str, Any], ...], kind: str) -> dict[str, dict[str, Any]]:
    """The rendered objects of ``kind``, by name."""
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def workloads(docs: tuple[dict[str, Any], ...]) -> dict[str, dict[str, Any]]:
    """Deployments and Jobs, by name."""
    return {**of_kind(docs, "Deployment"), **of_kind(docs, "Job")}


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The containers (and init containers) of a Deployment or Job."""
    spec = obj["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def test_every_object_is_well_formed(manifests: tuple[dict[str, Any], ...]) -> None:
    """apiVersion, kind, a DNS-1123 name and the namespace `dvc` on every object."""
    assert manifests
    for doc in manifests:
        assert doc.get("apiVersion") and doc.get("kind"), doc
        name = doc["metadata"]["name"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name) and len(name) <= 63, name
        assert doc["metadata"].get("namespace") == "dvc", name
    assert not of_kind(manifests, "StatefulSet"), "backing services are managed outside the base"


def test_deployments_have_probes_resources_and_a_pinned_image(manifests: tuple[dict[str, Any], ...]) -> None:
    """Readiness and liveness probes, requests and limits, the release's image, hardened containers."""
    deployments = of_kind(manifests, "Deployment")
    assert {"dvc-rasa", "dvc-action-server", "dvc-console", "dvc-events-consumer"} <= set(deployments)
    for name, obj in workloads(manifests).items():
        pod = obj["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        for c in containers(obj):
            where = f"{name}/{c['name']}"
            if obj["kind"] == "Deployment":
                assert "readinessProbe" in c and "livenessProbe" in c, where
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c.get("resources", {}).get(bound, {})), where
            image = c["image"]
            assert image.startswith(APP_IMAGE + ":") or image.startswith(APP_IMAGE + "@"), where
            assert not image.endswith(":latest"), where
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, where
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, where
            mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
            assert {"/app/var", "/tmp"} <= mounts, where


def test_rasa_is_replicated_autoscaled_and_protected(manifests: tuple[dict[str, Any], ...]) -> None:
    """Two replicas at least, an HPA on CPU, a startup probe for the model, a PDB, no affinity."""
    rasa = of_kind(manifests, "Deployment")["dvc-rasa"]
    assert rasa["spec"]["replicas"] >= 2
    pod = rasa["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 30
    container = pod["containers"][0]
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300
    assert container["readinessProbe"]["httpGet"]["path"] == "/"
    assert container["resources"]["requests"] == {"cpu": "1", "memory": "1536Mi"}
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "3Gi"}

    hpas = of_kind(manifests, "HorizontalPodAutoscaler").values()
    targets = {h["spec"]["scaleTargetRef"]["name"]: h["spec"] for h in hpas}
    assert {"dvc-rasa", "dvc-action-server"} <= set(targets)
    hpa = targets["dvc-rasa"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 10)
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 70

    pdbs = [p["spec"] for p in of_kind(manifests, "PodDisruptionBudget").values()]
    assert any(p["selector"]["matchLabels"] == rasa["spec"]["selector"]["matchLabels"] for p in pdbs)
    assert of_kind(manifests, "Service")["dvc-rasa"]["spec"].get("sessionAffinity", "None") == "None"
    for ingress in of_kind(manifests, "Ingress").values():
        annotations = ingress["metadata"].get("annotations", {})
        assert not any("affinity" in key for key in annotations), ingress["metadata"]["name"]


def test_singletons_and_the_migration_job(manifests: tuple[dict[str, Any], ...]) -> None:
    """Housekeeping and the watcher: one replica, Recreate; the Job runs `python -m bot prod prepare`."""
    deployments = of_kind(manifests, "Deployment")
    for name in ("dvc-housekeeping", "dvc-dossier-watcher"):
        assert deployments[name]["spec"]["replicas"] == 1, name
        assert deployments[name]["spec"]["strategy"]["type"] == "Recreate", name
    jobs = of_kind(manifests, "Job")
    assert any(c["args"] == ["python", "-m", "bot", "prod", "prepare"] for j in jobs.values() for c in containers(j))


def test_secrets_come_only_from_the_secret(manifests: tuple[dict[str, Any], ...]) -> None:
    """No secret in clear: not in a ConfigMap, and an env entry naming one uses secretKeyRef."""
    for config in of_kind(manifests, "ConfigMap").values():
        leaked = sorted(k for k in config.get("data", {}) if is_secret(k))
        assert not leaked, f"{config['metadata']['name']} holds secrets: {leaked}"
    assert not of_kind(manifests, "Secret"), f"the Secret {SECRET_NAME} is created by the operator"
    for name, obj in workloads(manifests).items():
        for c in containers(obj):
            for entry in c.get("env", []):
                if is_secret(entry["name"]):
                    ref = entry.get("valueFrom", {}).get("secretKeyRef", {})
                    assert ref.get("name") == SECRET_NAME, f"{name}: {entry['name']} not from {SECRET_NAME}"
            secret_refs = [e["secretRef"]["name"] for e in c.get("envFrom", []) if "secretRef" in e]
            assert secret_refs == [SECRET_NAME], name
    example = env_file_keys(SECRET_EXAMPLE, commented=True)
    assert all(is_secret(k) for k in example), sorted(k for k in example if not is_secret(k))
    assert "change-me" in SECRET_EXAMPLE.read_text(encoding="utf-8")


def _provided(container: dict[str, Any], docs: tuple[dict[str, Any], ...]) -> set[str]:
    """The variables a container receives: env, envFrom ConfigMaps, and the Secret's documented keys."""
    config_maps = of_kind(docs, "ConfigMap")
    names = {e["name"] for e in container.get("env", [])}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            names |= set(config_maps[source["configMapRef"]["name"]].get("data", {}))
        if "secretRef" in source:
            names |= env_file_keys(SECRET_EXAMPLE)
    return names


def test_every_endpoint_variable_reaches_rasa_and_the_processes(manifests: tuple[dict[str, Any], ...]) -> None:
    """Rasa refuses to start on an unset ${VAR} of endpoints.prod.yml; housekeeping reads it too."""
    wanted = endpoint_variables()
    assert {"ACTION_SERVER_URL", "TRACKER_DB_PASSWORD", "REDIS_HOST", "RABBITMQ_PASSWORD"} <= wanted
    always = {"RASA_TOKEN", "ACTION_SERVER_TOKEN", "SESSION_SECRET", "SEAL_KEY", "DATABASE_URL", "CORS_ORIGINS"}
    for name, obj in workloads(manifests).items():
        for c in containers(obj):
            missing = (wanted | always) - _provided(c, manifests)
            assert not missing, f"{name}/{c['name']} lacks {sorted(missing)}"
    config = next(iter(of_kind(manifests, "ConfigMap").values()))["data"]
    services = of_kind(manifests, "Service")
    assert config["ACTION_SERVER_URL"] == "http://dvc-action-server:5055/webhook"
    assert config["RASA_URL"] == "http://dvc-rasa:5005"
    for host in ("TRACKER_DB_HOST", "REDIS_HOST", "RABBITMQ_HOST"):
        assert config[host] in services, host


# ---------------------------------------------------------------------------------------------
# Compose


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """deploy/compose/docker-compose.yml."""
    return yaml.safe_load((COMPOSE_DIR / "docker-compose.yml").read_text(encoding="utf-8"))


def _compose_env(service: dict[str, Any]) -> set[str]:
    """The variables a compose service receives (its `.env` is read as the shipped .env.example)."""
    files = service.get("env_file", [])
    files = [files] if isinstance(files, str) else files
    names: set[str] = set()
    for entry in files:
        path = entry if isinstance(entry, str) else entry["path"]
        assert path == ".env", path
        names |= env_file_keys(COMPOSE_DIR / ".env.example")
    environment = service.get("environment", {})
    if isinstance(environment, list):
        names |= {item.split("=", 1)[0] for item in environment}
    else:
        names |= set(environment)
    return names


def app_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services running the application image."""
    return {name: s for name, s in compose["services"].items() if s.get("image", "").startswith("${DVC_IMAGE")}


def test_compose_services_get_every_variable(compose: dict[str, Any]) -> None:
    """endpoints.prod.yml's variables and the shared secrets reach every application service."""
    apps = app_services(compose)
    wanted = {"rasa", "action-server", "console", "events-consumer", "housekeeping", "dossier-watcher", "prepare"}
    assert wanted <= set(apps)
    needed = endpoint_variables() | {"RASA_TOKEN", "ACTION_SERVER_TOKEN", "SESSION_SECRET", "SEAL_KEY", "DATABASE_URL"}
    for name, service in apps.items():
        missing = needed - _compose_env(service)
        assert not missing, f"{name} lacks {sorted(missing)}"
        assert not any(is_secret(k) for k in service.get("environment", {})), name
    values = (COMPOSE_DIR / ".env.example").read_text(encoding="utf-8")
    for line in values.splitlines():
        key, _, value = line.partition("=")
        if not line.startswith("#") and is_secret(key) and key not in URLS_WITH_SECRETS:
            assert value == "change-me", key


def test_compose_order_health_and_replicas(compose: dict[str, Any]) -> None:
    """Backing services healthy and `prepare` completed before the rest; Rasa replicated and checked."""
    services = compose["services"]
    for backing in ("postgres", "redis", "rabbitmq"):
        assert "healthcheck" in services[backing], backing
    assert services["prepare"]["command"] == ["python", "-m", "bot", "prod", "prepare"]
    assert services["prepare"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name, service in app_services(compose).items():
        if name == "prepare":
            continue
        after = service["depends_on"]
        assert after["prepare"]["condition"] == "service_completed_successfully", name
        for backing in ("postgres", "redis", "rabbitmq"):
            assert after[backing]["condition"] == "service_healthy", f"{name} {backing}"
    rasa = services["rasa"]
    assert rasa["deploy"]["replicas"] >= 2
    assert "healthcheck" in rasa and "ports" not in rasa
    for name in ("housekeeping", "dossier-watcher"):
        assert services[name]["deploy"]["replicas"] == 1, name
    for name in ("action-server", "console"):
        assert "healthcheck" in services[name], name
    assert "redis" in services and "noeviction" in services["redis"]["command"]


def test_nginx_proxies_websockets_without_stickiness() -> None:
    """Upgrade headers for socket.io, no ip_hash / sticky / hash upstream; Rasa's API stays private."""
    conf = (COMPOSE_DIR / "nginx.conf").read_text(encoding="utf-8")
    code = "\n".join(line.split("#", 1)[0] for line in conf.splitlines())
    assert "proxy_set_header Upgrade" in code
    assert "location /socket.io/" in code
    for sticky in ("ip_hash", "sticky", "hash "):
        assert sticky not in code, sticky
    for private in ("/conversations", "/model", "5055"):
        assert private not in code, private


# ---------------------------------------------------------------------------------------------
# Image


def test_dockerfile_runs_as_non_root_from_the_lock_file() -> None:
    """The image installs requirements.lock, then the project without dependencies, and runs as a user."""
    lines = [
        line.strip()
        for line in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    text = "\n".join(lines)
    assert "FROM python:3.10-slim-bookworm" in text
    assert re.search(r"pip install --no-cache-dir -r requirements\.lock", text)
    assert re.search(r"pip install .*--no-deps .*-e \.", text)
    users = [line.split(None, 1)[1] for line in lines if line.startswith("USER ")]
    assert users, "no USER instruction"
    assert users[-1].split(":")[0] not in ("root", "0"), users[-1]
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").split()
    assert {".env", ".venv", "var", ".git"} <= set(ignore)


def test_rasa_start_script_runs_the_production_profile() -> None:
    """The Rasa command of both deployments: endpoints.prod.yml, the API with its token, CORS."""
    script = (DEPLOY / "bin" / "start-rasa.sh").read_text(encoding="utf-8")
    for part in (
        "bot.runtime.rasa_entry run",
        "--enable-api",
        "--port 5005",
        "--endpoints endpoints.prod.yml",
        "--cors",
        "bot channels credentials",
    ):
        assert part in script, part
    assert script.startswith("#!/bin/sh")
