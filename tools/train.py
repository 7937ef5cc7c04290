"""Thin script over `streammem train` (same arguments), for use from a checkout without the console script."""

import sys

from streammem.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
