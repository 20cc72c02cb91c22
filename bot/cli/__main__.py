"""`python -m bot.cli` is the `coursebot` console script."""

import sys

from bot.cli import main

sys.exit(main())
