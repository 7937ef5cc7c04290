"""``python -m streammem`` is the ``streammem`` command."""

import sys

from streammem.cli import main

sys.exit(main())
