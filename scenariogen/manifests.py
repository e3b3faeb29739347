"""Render a GitOps repository (plain, Kustomize or Helm-style) from the workloads' desired state.

Rendering is deterministic, so changing one field of the state and re-rendering yields a one-line
diff, exactly like a person's commit.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from scenariogen.plan import Plan

CONFIG_KEYS = [
    ("FEATURE_NEW_PRICING", "false", "true"),
    ("DB_POOL_SIZE", "20", "2"),
    ("CACHE_BACKEND", "redis", "memcached"),
    ("UPSTREAM_TIMEOUT_MS", "2000", "200"),
    ("SERIALIZER", "json", "msgpack"),
    ("FEATURE_ASYNC_CHECKOUT", "off", "on"),
    ("GRPC_MAX_RECV_MB", "16", "1"),
    ("TLS_MODE", "permissive", "strict"),
]


@dataclass
class Workload:
    name: str
    image: str
    tag: str
    replicas: int
    cpu_limit: float
    cpu_request: float
    mem_limit: int
    mem_request: int
    env: dict[str, str]
    hpa: tuple[int, int] | None
    sidecar: str | None
    style: dict[str, str] = field(default_factory=dict)


def cpu_text(cores: float, style: str) -> str:
    if style == "milli" or cores < 1 or cores != int(cores):
        return f"{round(cores * 1000)}m"
    return f'"{int(cores)}"' if style == "quoted" else str(int(cores))


def mem_text(b: int, style: str) -> str:
    mi = b // 2**20
    if style == "Gi" and mi % 1024 == 0:
        return f"{mi // 1024}Gi"
    return f'"{mi}Mi"' if style == "quoted" else f"{mi}Mi"


LIMITS_POINTER = "/spec/template/spec/containers/0/resources/limits"


class Renderer:
    def __init__(self, plan: Plan) -> None:
        self.p = plan
        rng = random.Random(plan.seed * 53 + 2)
        self.seq = rng.choice(["indented", "indented", "flush"])
        self.comments = rng.random() < 0.6
        self.ns_in_meta = rng.random() < 0.5
        self.overlay = {
            "base": "overlays/production",
            "k8s/base": "k8s/overlays/production",
            "deploy/base": "deploy/overlays/prod",
        }.get(plan.root, "overlays/production")
        self.omit_replicas_with_hpa = rng.random() < 0.5
        # where the Service object lives: none, a second document after the Deployment, or its own file
        self.service_doc = rng.choice(["none", "same_file", "own_file", "own_file"])
        # application settings in a ConfigMap (rolled by a reloader annotation) instead of inline env
        self.configmap = plan.layout != "helm" and rng.random() < 0.35

    def paths(self, w: Workload) -> dict[str, Any]:
        r = self.p.root
        if self.p.layout == "helm":
            values = f"{r}/{w.name}/values.yaml"
            if self.p.extra.get("prod_values"):  # merged in the order the Application lists them
                return {"values": values, "value_files": [values, f"{r}/{w.name}/values-production.yaml"]}
            return {"values": values}
        out: dict[str, Any] = {"deployment": f"{r}/{w.name}/deployment.yaml"}
        if w.hpa:
            out["hpa"] = f"{r}/{w.name}/hpa.yaml"
        if self.p.layout == "kustomize":
            out["overlay"] = f"{self.overlay}/kustomization.yaml"
            if self.patched(w):
                out["patch"] = f"{self.overlay}/{w.name}-resources.yaml"
        return out

    def render(self, ws: list[Workload]) -> dict[str, str]:
        files: dict[str, str] = {}
        for w in ws:
            if self.p.layout == "helm":
                files |= self.helm(w)
                continue
            dep = self.deployment(w)
            if self.configmap:
                files[f"{self.p.root}/{w.name}/configmap.yaml"] = self.config_map(w)
            if self.service_doc == "same_file":
                dep += "---\n" + self.service(w)
            elif self.service_doc == "own_file":
                files[f"{self.p.root}/{w.name}/service.yaml"] = self.service(w)
            files[self.paths(w)["deployment"]] = dep
            if w.hpa:
                files[self.paths(w)["hpa"]] = self.hpa(w)
            if self.p.layout == "kustomize":
                res = ["deployment.yaml"] + (["service.yaml"] if self.service_doc == "own_file" else [])
                res += ["configmap.yaml"] if self.configmap else []
                res += ["hpa.yaml"] if w.hpa else []
                files[f"{self.p.root}/{w.name}/kustomization.yaml"] = (
                    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
                    + "".join(f"  - {r}\n" for r in res)
                )
        if self.p.layout == "kustomize":
            files[f"{self.overlay}/kustomization.yaml"] = self.overlay_file(ws)
            for w in ws:
                if self.patched(w):
                    files[f"{self.overlay}/{w.name}-resources.yaml"] = self.resource_patch(w)
        return files

    def container(self, w: Workload, col: int, with_tag: bool) -> list[str]:
        pad, inner = " " * col, " " * (col + 2)
        sub = "  " if self.seq == "indented" else ""
        q = w.style
        image = f"{w.image}:{w.tag}" if with_tag else w.image
        lines = [
            f"{pad}- name: {w.name}",
            f"{inner}image: {image}",
            f"{inner}ports:",
            f"{inner}{sub}- containerPort: 8080",
            f"{inner}env:",
        ]
        for k, v in w.env.items():
            if k == "LOG_LEVEL" or not self.configmap:
                lines += [f"{inner}{sub}- name: {k}", f'{inner}{sub}  value: "{v}"']
        if self.configmap:
            lines += [
                f"{inner}envFrom:",
                f"{inner}{sub}- configMapRef:",
                f"{inner}{sub}    name: {w.name}-config",
            ]
        lines += [
            f"{inner}resources:",
            f"{inner}  requests:",
            f"{inner}    cpu: {cpu_text(w.cpu_request, q['cpu'])}",
            f"{inner}    memory: {mem_text(w.mem_request, q['mem'])}",
        ]
        lines += [f"{inner}{line}" for line in self.limit_lines(w, base=self.patched(w))]
        if w.sidecar in ("log-shipper", "otel-collector"):
            lines += [
                f"{pad}- name: {w.sidecar}",
                f"{inner}image: docker.io/library/{w.sidecar}:1.22.3",
                f"{inner}resources:",
                f"{inner}  limits:",
                f"{inner}    cpu: 500m",
                f"{inner}    memory: 256Mi",
            ]
        return lines

    def patched(self, w: Workload) -> bool:
        return w.name in self.p.extra.get("patched", ())

    def limit_lines(self, w: Workload, base: bool = False, indent: str = "  ") -> list[str]:
        """``limits:`` and its values; a patched workload's base carries smaller defaults."""
        x, q = self.p.extra, w.style
        cpu, mem = (
            (max(0.1, round(w.cpu_limit / 2, 1)), w.mem_limit // 2) if base else (w.cpu_limit, w.mem_limit)
        )
        out = []
        if not x.get("no_cpu_limits"):
            note = "  # sized for steady-state load" if self.comments and q["cpu"] == "milli" else ""
            out.append(f"{indent}  cpu: {cpu_text(cpu, q['cpu'])}{note}")
        if not x.get("no_mem_limits"):
            out.append(f"{indent}  memory: {mem_text(mem, q['mem'])}")
        return [f"{indent}limits:", *out] if out else []

    def resource_patch(self, w: Workload) -> str:
        """The production overlay's patch that sets the workload's limits."""
        q = w.style
        values = [] if self.p.extra.get("no_cpu_limits") else [("cpu", cpu_text(w.cpu_limit, q["cpu"]))]
        values += [] if self.p.extra.get("no_mem_limits") else [("memory", mem_text(w.mem_limit, q["mem"]))]
        if self.p.extra.get("patch_style") == "json6902":
            return "".join(f"- op: replace\n  path: {LIMITS_POINTER}/{k}\n  value: {v}\n" for k, v in values)
        head = (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
            f"  name: {w.name}\nspec:\n  template:\n    spec:\n      containers:\n"
        )
        body = f"        - name: {w.name}\n          resources:\n            limits:\n"
        return head + body + "".join(f"              {k}: {v}\n" for k, v in values)

    def deployment(self, w: Workload) -> str:
        p = self.p
        kust = p.layout == "kustomize"
        meta = [f"  name: {w.name}"] + (
            [f"  namespace: {p.namespace}"] if self.ns_in_meta and not kust else []
        )
        if self.configmap:
            meta += ["  annotations:", f'    configmap.reloader.stakater.com/reload: "{w.name}-config"']
        out = [
            "apiVersion: apps/v1",
            "kind: Deployment",
            "metadata:",
            *meta,
            "  labels:",
            f"    app: {w.name}",
            f"    app.kubernetes.io/name: {w.name}",
            f"    app.kubernetes.io/part-of: {p.namespace}",
            "spec:",
        ]
        if not (w.hpa and self.omit_replicas_with_hpa):
            replicas = 1 if kust else w.replicas
            note = "  # owned by on-call; see runbook" if self.comments and not w.hpa else ""
            out.append(f"  replicas: {replicas}{note}")
        out += [
            "  revisionHistoryLimit: 5",
            "  selector:",
            "    matchLabels:",
            f"      app: {w.name}",
            "  template:",
            "    metadata:",
            "      labels:",
            f"        app: {w.name}",
            "      annotations:",
            '        prometheus.io/scrape: "true"',
            "    spec:",
            "      containers:",
        ]
        col = (0 if kust else 2) if p.quirk else (8 if self.seq == "indented" else 6)
        out += self.container(w, col, with_tag=not kust)
        return "\n".join(out) + "\n"

    def config_map(self, w: Workload) -> str:
        data = [f'  {k}: "{v}"' for k, v in w.env.items() if k != "LOG_LEVEL"]
        head = ["apiVersion: v1", "kind: ConfigMap", "metadata:", f"  name: {w.name}-config", "data:"]
        return "\n".join(head + data) + "\n"

    def service(self, w: Workload) -> str:
        ns = [f"  namespace: {self.p.namespace}"] if self.ns_in_meta and self.p.layout != "kustomize" else []
        lines = [
            "apiVersion: v1",
            "kind: Service",
            "metadata:",
            f"  name: {w.name}",
            *ns,
            "spec:",
            "  selector:",
            f"    app: {w.name}",
            "  ports:",
            "    - name: http",
            "      port: 80",
            "      targetPort: 8080",
        ]
        return "\n".join(lines) + "\n"

    def hpa(self, w: Workload) -> str:
        assert w.hpa
        return (
            "\n".join(
                [
                    "apiVersion: autoscaling/v2",
                    "kind: HorizontalPodAutoscaler",
                    "metadata:",
                    f"  name: {w.name}",
                    "spec:",
                    "  scaleTargetRef:",
                    "    apiVersion: apps/v1",
                    "    kind: Deployment",
                    f"    name: {w.name}",
                    f"  minReplicas: {w.hpa[0]}",
                    f"  maxReplicas: {w.hpa[1]}",
                    "  metrics:",
                    "    - type: Resource",
                    "      resource:",
                    "        name: cpu",
                    "        target:",
                    "          type: Utilization",
                    "          averageUtilization: 70",
                ]
            )
            + "\n"
        )

    def overlay_file(self, ws: list[Workload]) -> str:
        base_rel = "../../" + self.p.root.split("/")[-1] if self.p.root == "base" else "../../base"
        out = [
            "apiVersion: kustomize.config.k8s.io/v1beta1",
            "kind: Kustomization",
            f"namespace: {self.p.namespace}",
            "resources:",
            *[f"  - {base_rel}/{w.name}" for w in ws],
        ]
        if self.comments:
            out.append("# replica counts for production (base manifests default to 1)")
        out.append("replicas:")
        for w in ws:
            if not w.hpa:
                out += [f"  - name: {w.name}", f"    count: {w.replicas}"]
        out.append("images:")
        for w in ws:
            out += [f"  - name: {w.image}", f'    newTag: "{w.tag}"']
        patched = [w for w in ws if self.patched(w)]
        if patched:
            out.append("patches:")
        for w in patched:
            out.append(f"  - path: {w.name}-resources.yaml")
            if self.p.extra.get("patch_style") == "json6902":
                out += ["    target:", "      kind: Deployment", f"      name: {w.name}"]
        return "\n".join(out) + "\n"

    def helm(self, w: Workload) -> dict[str, str]:
        r, q = f"{self.p.root}/{w.name}", w.style
        prod = bool(self.p.extra.get("prod_values"))
        real = [
            f"replicaCount: {w.replicas}",
            "resources:",
            "  requests:",
            f"    cpu: {cpu_text(w.cpu_request, q['cpu'])}",
            f"    memory: {mem_text(w.mem_request, q['mem'])}",
            *self.limit_lines(w),
        ]
        scaling = [
            "autoscaling:",
            f"  enabled: {'true' if w.hpa and not prod else 'false'}",
            f"  minReplicas: {w.hpa[0] if w.hpa else 1}",
            f"  maxReplicas: {w.hpa[1] if w.hpa and not (prod and self.max_in_prod(w)) else 5}",
            "  targetCPUUtilizationPercentage: 70",
        ]
        defaults = ["replicaCount: 1", "resources:", "  requests:", "    cpu: 100m", "    memory: 128Mi"]
        defaults += ["  limits:", "    cpu: 250m", "    memory: 256Mi"]
        values = [f"# Default values for {w.name}.", *(defaults if prod else real[:1]), ""]
        values += [
            "image:",
            f"  repository: {w.image}",
            f'  tag: "{w.tag}"',
            "  pullPolicy: IfNotPresent",
            "",
        ]
        values += ["env:", *(f'  {k}: "{v}"' for k, v in w.env.items()), ""]
        values += [*([] if prod else real[1:]), "", *scaling]
        out = {f"{r}/values.yaml": "\n".join(values) + "\n"}
        if prod:
            prod_lines = ["# production overrides", *real]
            if w.hpa:
                prod_lines += ["autoscaling:", "  enabled: true"]
                prod_lines += [f"  maxReplicas: {w.hpa[1]}"] if self.max_in_prod(w) else []
            out[f"{r}/values-production.yaml"] = "\n".join(prod_lines) + "\n"
            out[f"{r}/values-staging.yaml"] = "replicaCount: 1\nresources:\n  limits:\n    memory: 192Mi\n"
            out[f"argocd/{w.name}.yaml"] = (
                "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n"
                f"  name: {self.p.namespace}-{w.name}\n  namespace: argocd\nspec:\n  project: default\n"
                f"  source:\n    repoURL: https://git.example.com/{self.p.team}/gitops.git\n"
                f"    targetRevision: main\n    path: {r}\n    helm:\n      valueFiles:\n"
                "        - values.yaml\n        - values-production.yaml\n"
                "  destination:\n    server: https://kubernetes.default.svc\n"
                f"    namespace: {self.p.namespace}\n"
            )
        chart = (
            f"apiVersion: v2\nname: {w.name}\ndescription: {w.name} service\n"
            "type: application\nversion: 0.3.0\n"
        )
        tpl = (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n"
            "  {{- if not .Values.autoscaling.enabled }}\n"
            "  replicas: {{ .Values.replicaCount }}\n  {{- end }}\n"
            "  template:\n    spec:\n      containers:\n        - name: {{ .Chart.Name }}\n"
            '          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"\n'
            "          resources:\n            {{- toYaml .Values.resources | nindent 12 }}\n"
        )
        return {**out, f"{r}/Chart.yaml": chart, f"{r}/templates/deployment.yaml": tpl}

    def max_in_prod(self, w: Workload) -> bool:
        """Whether values-production.yaml also sets maxReplicas (else values.yaml's holds)."""
        return (self.p.seed + len(w.name)) % 2 == 0
