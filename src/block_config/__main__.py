"""``python -m block_config``: the ``block-config`` command."""

import sys

from block_config._cli import main

if __name__ == "__main__":
    sys.exit(main())
