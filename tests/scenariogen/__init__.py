"""Generate realistic incident scenarios in the shared format (see /work/shared/scenarios/FORMAT.md).

from tests.scenariogen import generate
path = generate(out_dir, seed=3, kind="memory_limit", layout="kustomize")
"""

from tests.scenariogen.core import generate
from tests.scenariogen.plan import KINDS, LAYOUTS

__all__ = ["KINDS", "LAYOUTS", "generate"]
