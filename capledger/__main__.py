"""``python -m capledger``: the same as the ``capledger`` script (how tests and benchmarks start
the relay, the projector and the server as child processes)."""

from capledger.cli.main import main

raise SystemExit(main())
