import sys

from scenariogen.cli import main

sys.exit(main())
