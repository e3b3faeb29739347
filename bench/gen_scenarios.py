"""Generate a suite of incident scenarios in the shared format.

    .venv/bin/python bench/gen_scenarios.py OUT_DIR --n 60 --seed 1 [--kind memory_limit] [--layout helm] ...

A thin wrapper over ``python -m scenariogen``; see scenariogen/plan.py for the knobs.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scenariogen.cli import main

if __name__ == "__main__":
    sys.exit(main())
