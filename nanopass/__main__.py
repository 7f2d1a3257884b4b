"""`python -m nanopass`: the same as the `nanopass` console script."""

import sys

from nanopass.cli import main

sys.exit(main())
