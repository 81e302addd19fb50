"""The ``capledger`` command line: demo, history, verify, rules, export and import.

Command output goes to stdout, logs and progress to stderr; expected errors end in one line
``capledger: error: <code>: <message>`` and a documented exit status (see ``errors``).
"""
