"""Renamed copies of an exported log, to grow a store for benchmarks and volume tests.

A seed recorded with a tag in every code and command id (``volume.record_year(tag=…)``) is
copied with the tag renamed: the copy's events belong to other plans, projects and command
receipts. Each stream id is derived from the renamed subject exactly as the ledger derives it
(``domain.ids``: ``project:<code>``, ``plan:<code>``, ``command:<id>``) and every chain is sealed
again, so a copy is a history the ledger itself could have recorded, and ``import`` checks it as
it checks any file (chains, principals, the rules audit, streams new to the store).
"""

from __future__ import annotations

import json
from pathlib import Path
from uuid import uuid5

from capledger.application.chain import GENESIS, seal
from capledger.domain.ids import NAMESPACE


def renamed_copy(
    seed: Path, target: Path, *, tag: str, renamed: str, limit: int | None = None
) -> int:
    """Write ``seed`` (an export) to ``target`` with every ``tag`` renamed ``renamed``; at most
    ``limit`` lines (a prefix of a log is a valid history). Returns the lines written."""
    heads: dict[str, str] = {}
    written = 0
    with seed.open(encoding="utf-8") as lines, target.open("w", encoding="utf-8") as out:
        for line in lines:
            if limit is not None and written >= limit:
                break
            record = json.loads(line.replace(tag, renamed))
            state = record["state"]
            meta = state.pop("_meta", {})
            state.pop("_chain", None)
            subject = meta.get("subject")
            if not subject:
                raise ValueError(
                    f"line {written + 1} of {seed} names no subject to derive its stream"
                )
            stream = str(uuid5(NAMESPACE, subject))
            sealed, digest = seal(
                stream=stream, version=record["version"], topic=record["topic"], data=state,
                meta=meta, prev=heads.get(stream, GENESIS),
            )  # fmt: skip
            heads[stream] = digest
            out.write(
                f'{{"position":{record["position"]},"stream":"{stream}",'
                f'"version":{record["version"]},"topic":{json.dumps(record["topic"])},'
                f'"state":{sealed.decode()}}}\n'
            )
            written += 1
    return written
