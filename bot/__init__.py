"""Tugboat: ChatOps for GitOps teams.

Layout (ports and adapters):
  domain/    plain data: alerts, evidence, root causes, proposals, approvals, audit events
  ports/     the interfaces the core needs from the outside world
  analysis/  deterministic root-cause analysis and remediation planning
  services/  use cases that combine the core with ports (investigate, propose, approve, merge)
  adapters/  the outside world: Prometheus, logs, git, store, manifests, Slack, LLM
  cli/       the typer command line
  wiring/    the one composition root that builds adapters from Settings
"""

__version__ = "0.1.0"
