"""Thin script over `streammem export` (same arguments), for use from a checkout without the console script."""

import sys

from streammem.cli import main

if __name__ == "__main__":
    sys.exit(main(["export", *sys.argv[1:]]))
