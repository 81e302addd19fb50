"""``python -m capledger.cli``: the same as the ``capledger`` script."""

from capledger.cli.main import main

raise SystemExit(main())
