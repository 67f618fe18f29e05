"""``python -m vascular_sklearn``."""

import sys

from .cli import main

sys.exit(main())
