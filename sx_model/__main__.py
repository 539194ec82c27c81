"""``python -m sx_model`` runs the command line."""
import sys

from .cli import main

sys.exit(main())
