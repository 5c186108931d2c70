"""``python -m sim``: the command line (contract 4)."""
import sys

from .cli import main

sys.exit(main())
