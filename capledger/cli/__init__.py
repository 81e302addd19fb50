"""The ``capledger`` command line, from which every process starts: the ledger's commands (demo,
history, verify, rules, export, import, queries, projections), the Kafka side (relay, projector,
subscribe, topics) and the HTTP API (serve, api-key, digest).

Command output goes to stdout, logs and progress to stderr; expected errors end in one line
``capledger: error: <code>: <message>`` and a documented exit status (see ``errors``).
"""
