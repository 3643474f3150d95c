"""``python -m linkage.cli``: the `linkage` command without its console script."""

import sys

from linkage.cli.main import main

sys.exit(main())
