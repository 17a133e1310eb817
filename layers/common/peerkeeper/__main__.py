"""``python -m peerkeeper``: the same command line as the ``peerkeeper`` console script."""

import sys

from peerkeeper.cli.app import main

if __name__ == "__main__":
    sys.exit(main())
