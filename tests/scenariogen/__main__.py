import sys

from tests.scenariogen.cli import main

sys.exit(main())
