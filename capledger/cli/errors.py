"""Exit statuses of the command line and the error that carries one."""

from __future__ import annotations

EXIT_OK = 0
#: Anything that is not the user's fault: an unreachable database, a full disk, a bug.
EXIT_FAILURE = 1
#: A malformed command line or input, as argparse itself exits.
EXIT_USAGE = 2
#: ``verify`` found stored history that does not match its hash chain; a read command
#: (``history``, ``balances``, ``rate``, ``watchlist``) refuses to show figures because a
#: projection runner met such an event (``ledger-verification-failed``).
EXIT_CHAIN_BROKEN = 3
#: The ledger refused the command (a domain or application rule); nothing was recorded.
EXIT_REFUSED = 4
#: ``verify --rules`` found a recorded event that the ledger's rules would have refused.
EXIT_RULE_BROKEN = 5
#: A checkpoint refused: ``log run`` found one of the same size with another root stored (a
#: fork); ``witness cosign`` met one the log did not sign or that does not extend the one it
#: cosigned last.
EXIT_CHECKPOINT_REFUSED = 6
#: ``record`` refused some of its lines (malformed, or refused by the ledger; the result lines
#: say which); every other line was recorded or replayed.
EXIT_LINES_REFUSED = 7


class CliError(Exception):
    """An expected failure, reported as one line with a stable code."""

    def __init__(self, code: str, message: str, exit_status: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.exit_status = exit_status
