"""The reducer of ``Project.EntryCorrected``: the correction of a movement other than cash.

The event says what it moves back, so it folds from its own data and the project's rows: the
capital on its line (a movement fact with the opposite sign, marked as a correction and naming
the corrected version, beside the original's fact, which stays), or the record fields it puts
back on the project. Payments and advances are reversed by ``EntryReversed`` (``cash``).
"""

from __future__ import annotations

from capledger.application.published import PublishedEvent
from capledger.domain.corrections import LINE_FIGURES, RECORD_FIELDS, TAKES_CAPITAL

from ..context import Context
from ..events import amount, iso_date
from ..rows import Movement
from .common import Reducer, Rows, current_project, existing_line, movements, release_extension

EXTENSION = "DisbursementPeriodExtended"


def entry_corrected(event: PublishedEvent, ctx: Context) -> Rows:
    project = current_project(event, ctx)
    data = event.data
    corrects = str(data["corrects"])
    if corrects in RECORD_FIELDS:
        return [project.evolve(**{name: data[name] for name in RECORD_FIELDS[corrects]})]
    line = existing_line(event, ctx, project.project_code)
    moved = amount(data)
    version = int(data["entry_version"])
    if corrects == EXTENSION:
        until = data.get("extended_until")
        line = line.evolve(
            extended=line.extended - moved,
            extended_until=None if until is None else iso_date(until),
        )
        changes = [(Movement.EXTENDED, -moved)]
    else:
        kind = Movement(LINE_FIGURES[corrects])
        line = line.evolve(**{kind.value: getattr(line, kind.value) - moved})
        changes = [(kind, -moved)]
        if corrects in TAKES_CAPITAL:
            line, released = release_extension(line)
            changes.append((Movement.EXTENDED, -released))
    facts = movements(event, project, line, changes, correction=True, entry_version=version)
    return [line, *facts]


REDUCERS: dict[str, Reducer] = {"Project.EntryCorrected": entry_corrected}
