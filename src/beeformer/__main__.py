"""``python -m beeformer``: see :mod:`beeformer.cli`."""

import sys

from beeformer.cli import main

sys.exit(main())
