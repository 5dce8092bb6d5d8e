"""``python -m plutflow``: the command line (used on boards and over SSH)."""

import sys

from plutflow.cli import main

sys.exit(main())
