"""``python -m ser_jax.provenance RUN_A RUN_B``: two runs compared stage by stage (see compare.py)."""

import sys

from ser_jax.provenance.compare import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
