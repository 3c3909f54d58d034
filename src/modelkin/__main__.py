"""``python -m modelkin`` runs the CLI."""

import sys

from modelkin.cli import main

sys.exit(main())
