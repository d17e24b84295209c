"""``python -m freqkit``: the command line (:mod:`freqkit.cli`)."""

import sys

from freqkit.cli import main

sys.exit(main())
