"""Old stored events read the same in a project's history: every golden project stream goes
through the history service, and its running balance ends where the domain's own replay of the
stream does."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from uuid import UUID

import pytest
from builders import sqlite_settings
from eventsourcing.persistence import StoredEvent

from capledger.bootstrap import build_ledger
from capledger.domain import Project
from capledger.projections.history import ProjectHistory

pytestmark = pytest.mark.integration

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
PROJECT_STREAMS = sorted(GOLDEN.glob("Project.*.json"))


class GoldenStream:
    """One stored stream, read as a recorder's ``select_events`` reads it."""

    def __init__(self, events: list[StoredEvent]) -> None:
        self.events = events

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        found = [
            event
            for event in self.events
            if str(event.originator_id) == str(originator_id)
            and (gt is None or event.originator_version > gt)
            and (lte is None or event.originator_version <= lte)
        ]
        found = found[::-1] if desc else found
        return found if limit is None else found[:limit]


def golden_stream(path: Path) -> list[StoredEvent]:
    document = json.loads(path.read_text(encoding="utf-8"))
    return [
        StoredEvent(
            originator_id=UUID(item["originator_id"]),
            originator_version=item["originator_version"],
            topic=item["topic"],
            state=item["state"].encode("utf-8"),
        )
        for item in document["stream"]
    ]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Project]]:
    """Each golden project stream replayed by the ledger's mapper into the domain's Project."""
    ledger = build_ledger(sqlite_settings(tmp_path_factory.mktemp("golden")))
    try:
        projects = {}
        for path in PROJECT_STREAMS:
            project = None
            for stored in golden_stream(path):
                project = ledger.mapper.to_domain_event(stored).mutate(project)  # type: ignore[attr-defined]
            assert isinstance(project, Project)
            projects[path.name] = project
        yield projects
    finally:
        ledger.close()


@pytest.mark.parametrize("path", PROJECT_STREAMS, ids=lambda path: path.name)
def test_a_golden_project_stream_reads_as_the_domain_replays_it(
    path: Path, replayed: dict[str, Project]
) -> None:
    stream = golden_stream(path)
    project = replayed[path.name]
    history = ProjectHistory(GoldenStream(stream), page=3)

    entries = history.history(project.code)

    assert [entry.version for entry in entries] == [e.originator_version for e in stream]
    assert entries[-1].balance == project.balance
    now = history.state_by_version(project.code, len(stream))
    assert now is not None
    assert (now.project.investor_code, now.project.status) == (
        project.investor_code,
        project.status,
    )
    assert now.totals == project.balance
