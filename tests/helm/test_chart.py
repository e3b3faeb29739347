"""The Helm chart, rendered by the real Helm engine (helm-python-sdk embeds Helm's Go library) and
validated against the Kubernetes OpenAPI schemas (kubernetes-validate, offline).

The security model is asserted on every values set: no token mounted, no RBAC objects at all,
a strict securityContext, probes, resources, a PodDisruptionBudget and egress rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import Settings

helm = pytest.importorskip("helm_python", reason="pip install -e '.[dev]' (helm-python-sdk)")
kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="pip install -e '.[dev]'")

CHART = Path(__file__).resolve().parents[2] / "helm" / "tugboat"
KUBERNETES_VERSION = "1.31.0"
RBAC_KINDS = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}
CRD_KINDS = {"ServiceMonitor"}

SECRETS = {
    "slack": {"existingSecret": "tugboat-slack"},
    "github": {"existingSecret": "tugboat-github", "appPrivateKeyKey": "private-key.pem"},
    "llm": {"existingSecret": "tugboat-llm"},
    "alertmanager": {"existingSecret": "tugboat-alertmanager"},
}
HA = {
    "replicaCount": 3,
    "database": {"type": "postgresql", "existingSecret": "tugboat-db"},
    "ingress": {
        "enabled": True,
        "className": "nginx",
        "tls": [{"secretName": "tb-tls", "hosts": ["tb.example.com"]}],
    },
    "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
    "secrets": SECRETS,
    "networkPolicy": {
        "egress": {"database": {"to": [{"podSelector": {"matchLabels": {"app": "postgresql"}}}]}},
    },
}
SOCKET = {
    "slackMode": "socket",
    "service": {"enabled": False},
    "persistence": {"enabled": True, "size": "2Gi"},
    "secrets": {"slack": {"existingSecret": "tugboat-slack"}},
}
VALUE_SETS = {"defaults": None, "ha-postgresql": HA, "socket-mode": SOCKET}


def render(values: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every object the chart renders for ``values``, in template order."""
    with helm.Chart.load(CHART) as chart:
        manifests = chart.render(values, name="tb", namespace="ops", is_install=True)
    objects: list[dict[str, Any]] = []
    for path in sorted(manifests):
        if path.endswith(".txt"):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(manifests[path]) if doc)
    return objects


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = by_kind(objects, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="module", params=list(VALUE_SETS))
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render(VALUE_SETS[request.param])


Rendered = tuple[str, list[dict[str, Any]]]


def test_every_object_is_valid_against_the_kubernetes_schemas(rendered: Rendered) -> None:
    _, objects = rendered
    assert objects
    for obj in objects:
        if obj["kind"] in CRD_KINDS:
            continue  # no schema for CRDs offline; its shape is checked below
        # strict: unknown fields are errors too, so a misspelt key cannot slip through
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_no_cluster_credentials_anywhere(rendered: Rendered) -> None:
    _, objects = rendered
    assert not [o["kind"] for o in objects if o["kind"] in RBAC_KINDS]
    account = one(objects, "ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert "Secret" not in {o["kind"] for o in objects}, "secrets are referenced by name, never rendered"


def test_strict_security_context_probes_and_resources(rendered: Rendered) -> None:
    _, objects = rendered
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the Dockerfile's UID
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    ctx = container["securityContext"]
    assert ctx["runAsNonRoot"] is True and ctx["runAsUser"] == 10001
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["capabilities"] == {"drop": ["ALL"]}
    assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}
    # writable scratch on a read-only root: /tmp and HOME (the git cache) are emptyDirs
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert "emptyDir" in volumes[mounts["/home/tugboat"]]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind])
    assert container["args"] == ["serve"]


def test_configuration_is_mounted_and_readable_by_settings(
    rendered: Rendered, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, objects = rendered
    config_map = one(objects, "ConfigMap")
    container = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["TUGBOAT_CONFIG"]["value"] == "/etc/tugboat/tugboat.yaml"
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/etc/tugboat")
    assert mount["readOnly"] is True
    # the rendered tugboat.yaml is a configuration bot.settings accepts
    path = tmp_path / "tugboat.yaml"
    path.write_text(config_map["data"]["tugboat.yaml"])
    for name in [*Settings.model_fields, "CONFIG"]:
        monkeypatch.delenv(f"TUGBOAT_{name.upper()}", raising=False)
    monkeypatch.setenv("TUGBOAT_CONFIG", str(path))
    settings = Settings()
    assert settings.prometheus_url == "http://prometheus-operated.monitoring:9090"
    assert settings.policy.allow_self_approval is False


def test_pod_disruption_budget_selects_the_pods(rendered: Rendered) -> None:
    _, objects = rendered
    pdb = one(objects, "PodDisruptionBudget")
    deployment = one(objects, "Deployment")
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]
    assert "maxUnavailable" in pdb["spec"] or "minAvailable" in pdb["spec"]


def test_network_policy_allows_only_what_the_bot_talks_to(rendered: Rendered) -> None:
    name, objects = rendered
    policy = one(objects, "NetworkPolicy")["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    (ingress,) = policy["ingress"]
    assert ingress["ports"] == [{"port": "http", "protocol": "TCP"}]
    egress = policy["egress"]
    # every egress rule is limited to ports: none allows all traffic
    assert all(rule.get("ports") for rule in egress)
    ports = [{p["port"] for p in rule["ports"]} for rule in egress]
    assert {53} in ports  # DNS
    assert {9090} in ports  # Prometheus
    assert {3100, 80} in ports  # Loki
    assert {443, 22} in ports  # the Git host
    assert sum(p == {443} for p in ports) == 2  # Slack and the LLM
    internet = [r for r in egress if r.get("to") and "ipBlock" in r["to"][0]]
    for rule in internet:
        assert "10.0.0.0/8" in rule["to"][0]["ipBlock"]["except"]
    assert ({5432} in ports) == (name == "ha-postgresql")


def test_default_values_render_a_single_replica_on_sqlite() -> None:
    objects = render(None)
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["TUGBOAT_DATABASE_URL"]["value"] == "sqlite:////data/tugboat.db"
    assert env["TUGBOAT_TRANSPORT"]["value"] == "http"
    assert not by_kind(objects, "Ingress") and not by_kind(objects, "ServiceMonitor")
    assert one(objects, "Service")["spec"]["ports"][0]["targetPort"] == "http"


def test_high_availability_with_postgresql_ingress_and_service_monitor() -> None:
    objects = render(HA)
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    pod = deployment["spec"]["template"]["spec"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["TUGBOAT_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "tugboat-db",
        "key": "TUGBOAT_DATABASE_URL",
    }
    # standard variable names, each from the Secret named in values
    expected = {
        "SLACK_BOT_TOKEN": "tugboat-slack",
        "SLACK_SIGNING_SECRET": "tugboat-slack",
        "SLACK_APP_TOKEN": "tugboat-slack",
        "GITHUB_TOKEN": "tugboat-github",
        "TUGBOAT_GITHUB_APP_PRIVATE_KEY": "tugboat-github",
        "OPENAI_API_KEY": "tugboat-llm",
        "TUGBOAT_ALERTMANAGER_TOKEN": "tugboat-alertmanager",
    }
    for var, secret in expected.items():
        assert env[var]["valueFrom"]["secretKeyRef"]["name"] == secret, var
        assert "value" not in env[var]
    # required over HTTP
    assert env["SLACK_SIGNING_SECRET"]["valueFrom"]["secretKeyRef"].get("optional") is None
    # no SQLite volume with PostgreSQL
    assert "/data" not in {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    ingress = one(objects, "Ingress")
    (rule,) = ingress["spec"]["rules"]
    assert [p["path"] for p in rule["http"]["paths"]] == ["/slack/events"]  # /metrics stays inside
    assert ingress["spec"]["ingressClassName"] == "nginx"
    monitor = one(objects, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["selector"]["matchLabels"] == one(objects, "Service")["spec"]["selector"]
    endpoint = {"port": "http", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}
    assert monitor["spec"]["endpoints"] == [endpoint]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["ops"]}


def test_socket_mode_exposes_nothing_to_slack() -> None:
    objects = render(SOCKET)
    assert not by_kind(objects, "Service") and not by_kind(objects, "Ingress")
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}  # one pod owns the SQLite volume
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["TUGBOAT_TRANSPORT"]["value"] == "socket"
    assert env["SLACK_APP_TOKEN"]["valueFrom"]["secretKeyRef"].get("optional") is None
    assert env["SLACK_SIGNING_SECRET"]["valueFrom"]["secretKeyRef"]["optional"] is True
    claim = one(objects, "PersistentVolumeClaim")
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicaCount": 2}, "more than one replica REQUIRES PostgreSQL"),
        ({"replicaCount": 3, "database": {"type": "sqlite"}}, "more than one replica REQUIRES PostgreSQL"),
        ({"database": {"type": "postgresql"}}, "database.existingSecret is empty"),
        ({"database": {"type": "mysql"}}, "database.type must be sqlite or postgresql"),
        ({"service": {"enabled": False}, "serviceMonitor": {"enabled": True}}, "needs service.enabled"),
    ],
)
def test_impossible_configurations_fail_to_render_with_a_clear_message(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm.HelmRenderError, match=message):
        render(values)


def test_values_file_documents_the_postgresql_requirement() -> None:
    text = (CHART / "values.yaml").read_text()
    assert "More than one replica REQUIRES PostgreSQL" in text


def test_helm_lint_is_clean() -> None:
    report = helm.lint(CHART, strict=True)
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not problems and not report["errors"], report


def test_every_variable_the_chart_sets_is_one_settings_reads() -> None:
    from pydantic import AliasChoices

    known = {"TUGBOAT_CONFIG"}
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        known.add(alias.choices[0] if isinstance(alias, AliasChoices) else f"TUGBOAT_{name.upper()}")
    for values in (HA, SOCKET):
        container = one(render(values), "Deployment")["spec"]["template"]["spec"]["containers"][0]
        assert {e["name"] for e in container["env"]} <= known


def test_the_repository_clone_has_its_own_volume_and_ssh_key() -> None:
    plain = one(render(None), "Deployment")["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in plain["containers"][0]["env"]}
    assert env["TUGBOAT_DATA_DIR"] == "/var/lib/tugboat" and "TUGBOAT_REPO_SSH_KEY_FILE" not in env
    volumes = {v["name"]: v for v in plain["volumes"]}
    assert "emptyDir" in volumes["repository"]
    mounts = {m["name"]: m["mountPath"] for m in plain["containers"][0]["volumeMounts"]}
    assert mounts["repository"] == "/var/lib/tugboat"
    values = {
        "config": {"repo": "git@github.com:acme/gitops.git"},
        "repository": {"existingClaim": "gitops-clone", "ssh": {"existingSecret": "gitops-deploy-key"}},
    }
    spec = one(render(values), "Deployment")["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    assert env["TUGBOAT_REPO_SSH_KEY_FILE"] == "/etc/tugboat-ssh/id_ed25519"
    assert env["TUGBOAT_REPO_SSH_KNOWN_HOSTS_FILE"] == "/etc/tugboat-ssh/known_hosts"
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["repository"]["persistentVolumeClaim"]["claimName"] == "gitops-clone"
    assert volumes["repository-ssh"]["secret"]["secretName"] == "gitops-deploy-key"
    mounts = {m["name"]: m for m in spec["containers"][0]["volumeMounts"]}
    assert mounts["repository-ssh"]["readOnly"] is True
    known = {f"TUGBOAT_{n.upper()}" for n in Settings.model_fields}
    assert {"TUGBOAT_DATA_DIR", "TUGBOAT_REPO_SSH_KEY_FILE", "TUGBOAT_REPO_SSH_KNOWN_HOSTS_FILE"} <= known


def test_the_slack_journal_has_a_volume_of_its_own_per_pod() -> None:
    spec = one(render(None), "Deployment")["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    mounts = {m["name"]: m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert env["TUGBOAT_SLACK_JOURNAL_DIR"] == mounts["slack-journal"] == "/var/lib/tugboat-journal"
    assert volumes["slack-journal"]["emptyDir"]["sizeLimit"] == "128Mi"  # the pod's own, restarts keep it
    assert "TUGBOAT_SLACK_JOURNAL_DIR" in {f"TUGBOAT_{n.upper()}" for n in Settings.model_fields}
