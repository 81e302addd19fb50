"""Rows of the read model: one named tuple per table, naming its table and key.

Reducers return rows; a runner upserts them by key. Every row is owned by exactly one event
stream (a project's rows by that project's stream, a plan's by the plan's stream, a movement by
the event that made it), so a runner that keeps each stream in order may interleave streams in
any way and still write the same rows.

Dates are ISO 8601 text (``YYYY-MM-DD``), recording times UTC text of fixed width
(``YYYY-MM-DDTHH:MM:SS.ffffffZ``): both compare correctly as text in every store. Amounts are
integers of VND.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from operator import itemgetter
from types import NoneType, UnionType
from typing import Any, ClassVar, NamedTuple, TypeVar

from capledger.domain.capital import capital, extended_remaining, unallocated, undisbursed

R = TypeVar("R", bound="Row")


class ColumnType(StrEnum):
    INTEGER = "integer"
    TEXT = "text"
    FLAG = "flag"


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    nullable: bool


class Row:
    """Base of every read-model row. A row type is a ``NamedTuple`` of its columns (immutable,
    made in one call: reducers make several per event) with this class beside it, naming its
    table, key and indexes::

        class _PlanSourceFields(NamedTuple):
            plan_code: str
            ...

        class PlanSourceRow(_PlanSourceFields, Row):
            __slots__ = ()
            TABLE: ClassVar[str] = "plan_source"
            KEY: ClassVar[tuple[str, ...]] = ("plan_code", "source")
    """

    __slots__ = ()
    TABLE: ClassVar[str]
    KEY: ClassVar[tuple[str, ...]]
    #: Secondary indexes, each a tuple of column names.
    INDEXES: ClassVar[tuple[tuple[str, ...], ...]] = ()

    def key(self) -> tuple[Any, ...]:
        """The values of the key columns."""
        return _accessors(type(self)).key(self)

    def values(self) -> tuple[Any, ...]:
        """Column values for a store: flags as 0/1, the same in every dialect."""
        return _accessors(type(self)).values(self)

    def evolve(self: R, **changes: Any) -> R:
        """A copy with ``changes`` (``NamedTuple._replace``); an unknown field is a
        ``TypeError``."""
        try:
            replaced: R = self._replace(**changes)  # type: ignore[attr-defined]
        except ValueError:
            unknown = sorted(set(changes) - set(self._fields))  # type: ignore[attr-defined]
            raise TypeError(f"{type(self).__name__} has no field {unknown[0]!r}") from None
        return replaced


_COLUMNS: dict[type[Row], tuple[Column, ...]] = {}


def columns(kind: type[Row]) -> tuple[Column, ...]:
    """The columns of a row type, in field order, typed from the field annotations."""
    found = _COLUMNS.get(kind)
    if found is None:
        hints = typing.get_type_hints(kind)
        names: tuple[str, ...] = kind._fields  # type: ignore[attr-defined]
        found = tuple(_column(name, hints[name]) for name in names)
        _COLUMNS[kind] = found
    return found


class _Accessors:
    """Getters made once per row type from its columns (``operator.itemgetter``): one call per
    row instead of a loop over its fields, on the folding and writing paths."""

    def __init__(self, kind: type[Row]) -> None:
        described = columns(kind)
        positions = {column.name: index for index, column in enumerate(described)}
        self.key = _tuple_getter([positions[name] for name in kind.KEY])
        flags = tuple(index for index, column in enumerate(described)
                      if column.type is ColumnType.FLAG)  # fmt: skip
        self.values: Callable[[Any], tuple[Any, ...]] = (
            _with_flags_as_integers(flags) if flags else tuple
        )


def _tuple_getter(positions: list[int]) -> Callable[[Any], tuple[Any, ...]]:
    """``lambda row: (row[i], row[j], …)``."""
    get = itemgetter(*positions)
    if len(positions) == 1:
        return lambda row: (get(row),)
    return get


def _with_flags_as_integers(flags: tuple[int, ...]) -> Callable[[Any], tuple[Any, ...]]:
    def values(row: Any) -> tuple[Any, ...]:
        found = list(row)
        for index in flags:
            flag = found[index]
            if flag is not None:
                found[index] = 1 if flag else 0
        return tuple(found)

    return values


_ACCESSORS: dict[type[Row], _Accessors] = {}


def _accessors(kind: type[Row]) -> _Accessors:
    found = _ACCESSORS.get(kind)
    if found is None:
        found = _ACCESSORS[kind] = _Accessors(kind)
    return found


def key_getter(kind: type[Row]) -> Callable[[Any], tuple[Any, ...]]:
    """``row.key()`` as a function of the row, for rows of one kind."""
    return _accessors(kind).key


def value_getter(kind: type[Row]) -> Callable[[Any], tuple[Any, ...]]:
    """``row.values()`` as a function of the row, for rows of one kind."""
    return _accessors(kind).values


def _column(name: str, hint: Any) -> Column:
    nullable = False
    if isinstance(hint, UnionType):
        members = [member for member in hint.__args__ if member is not NoneType]
        nullable = len(members) != len(hint.__args__)
        (hint,) = members
    if hint is bool:
        return Column(name, ColumnType.FLAG, nullable)
    if hint is int:
        return Column(name, ColumnType.INTEGER, nullable)
    if hint is str:
        return Column(name, ColumnType.TEXT, nullable)
    raise TypeError(f"column {name}: unsupported type {hint!r}")


def from_values(kind: type[Row], values: typing.Sequence[Any]) -> Row:
    """Build a row from stored values (flags come back as integers, sums as decimals)."""
    converted = [
        _convert(column, value) for column, value in zip(columns(kind), values, strict=True)
    ]
    return kind(*converted)


def _convert(column: Column, value: Any) -> Any:
    if value is None:
        return None
    if column.type is ColumnType.FLAG:
        return bool(value)
    if column.type is ColumnType.INTEGER:
        return int(value)
    return str(value)


class Movement(StrEnum):
    """What a movement fact changes: one balance column of an allocation line."""

    ALLOCATED = "allocated"
    TRANSFERRED_IN = "transferred_in"
    TRANSFERRED_OUT = "transferred_out"
    CUT = "cut"
    DISBURSED = "disbursed"
    ADVANCES_OUTSTANDING = "advances_outstanding"
    LAPSED = "lapsed"
    EXTENDED = "extended"


# -- projects ---------------------------------------------------------------------------------


class _ProjectFields(NamedTuple):
    project_code: str
    name: str
    investor_code: str
    investor_name: str
    program: str
    sector: str
    province: str
    total_investment: int
    status: str
    review_class: str | None
    registered_on: str
    settled_value: int | None


class ProjectRow(_ProjectFields, Row):
    """A project as it stands now; ``investor_*`` is the investor accountable now."""

    __slots__ = ()
    TABLE: ClassVar[str] = "project"
    KEY: ClassVar[tuple[str, ...]] = ("project_code",)
    INDEXES: ClassVar[tuple[tuple[str, ...], ...]] = (
        ("investor_code",),
        ("program",),
        ("sector",),
        ("province",),
        ("status",),
    )


class _LineFields(NamedTuple):
    project_code: str
    plan_code: str
    source: str
    plan_kind: str
    fiscal_year: int
    allocated: int = 0
    transferred_in: int = 0
    transferred_out: int = 0
    cut: int = 0
    disbursed: int = 0
    advances_outstanding: int = 0
    lapsed: int = 0
    extended: int = 0
    disbursed_after_deadline: int = 0
    extended_until: str | None = None


class LineRow(_LineFields, Row):
    """Capital of one plan and one source on one project, mirroring the domain's line."""

    __slots__ = ()
    TABLE: ClassVar[str] = "line"
    KEY: ClassVar[tuple[str, ...]] = ("project_code", "plan_code", "source")
    INDEXES: ClassVar[tuple[tuple[str, ...], ...]] = (
        ("plan_code", "source"),
        ("fiscal_year", "plan_kind"),
        ("source",),
    )

    @property
    def capital(self) -> int:
        """What the project was given from this plan and source."""
        return capital(self.allocated, self.transferred_in, self.transferred_out, self.cut)

    @property
    def undisbursed(self) -> int:
        return undisbursed(self.capital, self.disbursed, self.lapsed)

    @property
    def extended_remaining(self) -> int:
        return extended_remaining(self.extended, self.disbursed_after_deadline)


class _ContractFields(NamedTuple):
    project_code: str
    contract_no: str
    contractor: str
    value: int
    signed_on: str
    advanced: int = 0
    advance_outstanding: int = 0
    completed_paid: int = 0


class ContractRow(_ContractFields, Row):
    __slots__ = ()
    TABLE: ClassVar[str] = "contract"
    KEY: ClassVar[tuple[str, ...]] = ("project_code", "contract_no")


class _EntryFields(NamedTuple):
    project_code: str
    stream_version: int
    position: int
    kind: str  # "advance" | "completed_work"
    plan_code: str
    source: str
    contract_no: str | None
    amount: int
    advance_recovered: int
    from_extension: bool
    effective_on: str
    reversed_by: int | None = None


class EntryRow(_EntryFields, Row):
    """A payment or advance, kept by its stream version so that a reversal can find it."""

    __slots__ = ()
    TABLE: ClassVar[str] = "entry"
    KEY: ClassVar[tuple[str, ...]] = ("project_code", "stream_version")

    @property
    def net(self) -> int:
        return self.amount - self.advance_recovered


class _MovementFields(NamedTuple):
    position: int
    seq: int
    project_code: str
    plan_code: str
    source: str
    fiscal_year: int
    kind: str
    amount: int
    effective_on: str
    recorded_at: str
    recorded_on: str
    lateness_days: int
    from_extension: bool
    correction: bool
    entry_version: int | None
    investor_code: str


class MovementRow(_MovementFields, Row):
    """One dated change of one balance of one allocation line: the facts of as-of queries.

    ``investor_code`` is the investor recorded at the time; ``lateness_days`` is the recording
    date (reporting time zone) minus the effective date.
    """

    __slots__ = ()
    TABLE: ClassVar[str] = "movement"
    KEY: ClassVar[tuple[str, ...]] = ("position", "seq")
    INDEXES: ClassVar[tuple[tuple[str, ...], ...]] = (
        ("plan_code", "kind", "effective_on"),
        ("project_code", "kind"),
        ("fiscal_year", "kind", "recorded_on"),
    )


# -- plans ------------------------------------------------------------------------------------


class _PlanFields(NamedTuple):
    plan_code: str
    title: str
    kind: str
    authority: str
    jurisdiction: str
    start_year: int
    end_year: int
    implements: str | None
    plan_version: int
    approved_on: str


class PlanRow(_PlanFields, Row):
    __slots__ = ()
    TABLE: ClassVar[str] = "plan"
    KEY: ClassVar[tuple[str, ...]] = ("plan_code",)
    INDEXES: ClassVar[tuple[tuple[str, ...], ...]] = (
        ("jurisdiction", "start_year", "kind"),
        ("authority",),
    )


class _PlanVersionFields(NamedTuple):
    plan_code: str
    plan_version: int
    effective_on: str
    recorded_at: str
    recorded_on: str
    decision_no: str
    decision_issued_on: str
    decision_issuer: str
    reason: str | None
    envelope_total: int
    position: int


class PlanVersionRow(_PlanVersionFields, Row):
    """Version 1 is the approval; every later version is an adjustment."""

    __slots__ = ()
    TABLE: ClassVar[str] = "plan_version"
    KEY: ClassVar[tuple[str, ...]] = ("plan_code", "plan_version")
    INDEXES: ClassVar[tuple[tuple[str, ...], ...]] = (("effective_on",),)


class _PlanEnvelopeFields(NamedTuple):
    plan_code: str
    plan_version: int
    source: str
    amount: int


class PlanEnvelopeRow(_PlanEnvelopeFields, Row):
    __slots__ = ()
    TABLE: ClassVar[str] = "plan_envelope"
    KEY: ClassVar[tuple[str, ...]] = ("plan_code", "plan_version", "source")


class _PlanSourceFields(NamedTuple):
    plan_code: str
    source: str
    envelope: int = 0
    allocated: int = 0


class PlanSourceRow(_PlanSourceFields, Row):
    """A plan's current envelope and allocated capital (net of capital returned) per source."""

    __slots__ = ()
    TABLE: ClassVar[str] = "plan_source"
    KEY: ClassVar[tuple[str, ...]] = ("plan_code", "source")

    @property
    def unallocated(self) -> int:
        return unallocated(self.envelope, self.allocated)


# -- bookkeeping ------------------------------------------------------------------------------


class _TrackingFields(NamedTuple):
    log: str
    log_partition: int
    position: int


class TrackingRow(_TrackingFields, Row):
    """The last position applied from a log (partition 0 of the notification log, or a Kafka
    partition); written in the same transaction as the rows it accounts for."""

    __slots__ = ()
    TABLE: ClassVar[str] = "tracking"
    KEY: ClassVar[tuple[str, ...]] = ("log", "log_partition")


class _StreamHeadFields(NamedTuple):
    stream: str
    version: int
    hash: str


class StreamHeadRow(_StreamHeadFields, Row):
    """The last event folded from a stream: its version and hash, the link the stream's next
    event must continue (``projections.verification``); written in the same transaction as
    the rows the event changed."""

    __slots__ = ()
    TABLE: ClassVar[str] = "stream_head"
    KEY: ClassVar[tuple[str, ...]] = ("stream",)


#: Rows that reducers produce.
REDUCED_ROWS: tuple[type[Row], ...] = (
    ProjectRow,
    LineRow,
    ContractRow,
    EntryRow,
    MovementRow,
    PlanRow,
    PlanVersionRow,
    PlanEnvelopeRow,
    PlanSourceRow,
)
#: Every table of a read-model namespace.
ALL_ROWS: tuple[type[Row], ...] = (*REDUCED_ROWS, TrackingRow, StreamHeadRow)
