"""``python -m brainalign`` (also what ``torchrun -m brainalign`` runs)."""

import sys

from brainalign.cli import main

sys.exit(main())
