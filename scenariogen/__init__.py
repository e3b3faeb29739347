"""Generate realistic incident scenarios in the Tugboat scenario format (the one `make grade` reads).

    .venv/bin/python -m scenariogen OUT_DIR --n 60 --seed 1 [--kind K] [--layout L] ...
    .venv/bin/python bench/rca_eval.py --n 60 --seed 1 [--tugboat .venv/bin/tugboat]

    from scenariogen import generate
    path = generate(out_dir, seed=3, kind="memory_limit", layout="kustomize")

Knobs (any left out is drawn from the seed): kind, variant, layout, root, convention, alert, label,
downstream, quirk, hpa, distractors, sidecars, grpc, bad_change, step, window_min, onset_min,
n_services, compact, name, at. Each scenario directory holds scenario.json, alert.json,
metrics.om.gz, logs.jsonl.gz, repo.bundle and expected.json (the answer, plus the layout's paths,
the variant, the alert style and the ``quirk`` flag); ``grading.grade`` checks an answer the way
the shared grader does.
"""

from scenariogen.core import generate
from scenariogen.plan import KINDS, LAYOUTS

__all__ = ["KINDS", "LAYOUTS", "generate"]
