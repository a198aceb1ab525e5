"""`python -m services.cli`: how the dev supervisor starts its gateway and workers."""

import sys

from services.cli.main import main

sys.exit(main())
