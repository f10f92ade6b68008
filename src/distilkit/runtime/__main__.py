"""`python -m distilkit.runtime`: see `distilkit.runtime.cli`."""

import sys

from distilkit.runtime.cli import main

sys.exit(main())
