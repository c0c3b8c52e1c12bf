"""``python -m beeformer``: see :mod:`beeformer.cli`."""

import sys

from beeformer.cli import main

if __name__ == "__main__":  # vLLM's engine starts its processes with spawn, which imports this module again
    sys.exit(main())
