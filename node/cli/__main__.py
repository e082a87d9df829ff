"""``python -m node.cli``: the ``bigre`` command."""

import sys

from node.cli import main

sys.exit(main())
