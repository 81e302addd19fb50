"""capledger: the event-sourced audit trail of public investment capital."""

__version__ = "0.1.0"
