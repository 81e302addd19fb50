"""What a command module registers its subcommands on: the object ``add_subparsers()``
returns, named by what the CLI uses of it (argparse's own class for it is private)."""

from __future__ import annotations

import argparse
from typing import Any, Protocol


class Subcommands(Protocol):
    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...
