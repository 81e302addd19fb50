"""``capledger rate``, ``capledger balances``, ``capledger watchlist`` and
``capledger jurisdictions``: the inspectors' questions, answered from the read models (caught up
with the ledger first).

Amounts are integer VND in every format; rates are percentages rounded half up, written as text
(never a float). A plan or scope the read model does not hold is an error of one line; so is a
jurisdiction the list does not hold (``unknown-jurisdiction``, exit 4). A jurisdiction at any
level is a scope: the country (``VN``) counts the plans of every province and ministry.
"""

from __future__ import annotations

import argparse
import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from capledger.domain.capital import FIGURES
from capledger.domain.jurisdictions import JurisdictionLevel, UnknownJurisdiction
from capledger.domain.values import Authority
from capledger.projections.queries import (
    AsOf,
    BalanceFilter,
    Denominator,
    DisbursementRate,
    Exclusions,
    GroupBalance,
    NotYetKnown,
    PlanOutsideScope,
    QueryError,
    RateFigures,
    Ratio,
    Scope,
    SummedRate,
    WatchEntry,
    WatchLevel,
    WatchList,
    balances,
    scope_rates,
    watch_list,
)
from capledger.projections.queries.balances import RATE, SORTS
from capledger.rules.jurisdictions import shipped_jurisdictions

from .context import CliContext
from .errors import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, CliError
from .formatting import Column, json_line, render_table, vnd
from .rules import iso_date
from .subcommands import Subcommands

FORMATS = ("table", "json", "csv")
#: The dimensions inspectors group balances by.
DIMENSIONS = (
    "project", "plan", "source", "investor", "program", "sector", "province", "jurisdiction",
)  # fmt: skip
NO_RATE = "—"


def register(subparsers: Subcommands) -> None:
    _register_rate(subparsers)
    _register_balances(subparsers)
    _register_watchlist(subparsers)
    _register_jurisdictions(subparsers)


# -- shared ----------------------------------------------------------------------------------


def percent(ratio: Ratio, places: int = 1) -> str | None:
    """The rate in percent as text, half up ("33.8"); None when nothing was due."""
    value = ratio.percent(places)
    return None if value is None else str(value)


def shown_rate(ratio: Ratio) -> str:
    value = percent(ratio)
    return NO_RATE if value is None else f"{value}%"


def as_of_point(args: argparse.Namespace) -> AsOf | None:
    if args.as_of is None:
        if args.known_by is not None:
            raise CliError("usage", "--known-by needs --as-of", EXIT_USAGE)
        return None
    return AsOf(args.as_of, args.known_by or args.as_of)


def describe_as_of(point: AsOf | None) -> str:
    if point is None:
        return "now"
    if point.known == point.effective:
        return f"as of {point.effective.isoformat()}"
    return f"effective by {point.effective.isoformat()}, as recorded by {point.known.isoformat()}"


def as_of_json(point: AsOf | None) -> dict[str, date] | None:
    return None if point is None else {"effective": point.effective, "known": point.known}


def _add_as_of(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--as-of",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="what the ledger knew at the end of this day (Vietnam time) about movements "
        "effective by then (default: everything recorded so far)",
    )
    parser.add_argument(
        "--known-by",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="with --as-of: count movements effective by --as-of that were recorded by this "
        "later day (late entries become visible)",
    )


def _add_format(parser: argparse.ArgumentParser, formats: Sequence[str] = FORMATS) -> None:
    parser.add_argument(
        "--format",
        choices=formats,
        default="table",
        help="a table for people (default), one JSON object per line"
        + (", or CSV with a header" if "csv" in formats else "")
        + " for programs",
    )


JURISDICTION_HELP = (
    "a jurisdiction at any level (capledger jurisdictions): a province or city (HP), a ministry "
    "or central agency (BTC), or the country (VN), which counts every jurisdiction under it"
)


def _scope_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jurisdiction", required=True, metavar="CODE", help=JURISDICTION_HELP)
    parser.add_argument(
        "--year", required=True, type=int, metavar="YYYY", help="the fiscal year, e.g. 2021"
    )


def members_of(code: str) -> tuple[str, ...]:
    """Every jurisdiction a scope of ``code`` counts; ``unknown-jurisdiction`` (exit 4) when the
    list has no ``code``."""
    try:
        return shipped_jurisdictions().members(code)
    except UnknownJurisdiction as error:
        raise CliError(UnknownJurisdiction.code, str(error), EXIT_REFUSED) from None


def scope_of(code: str, year: int) -> Scope:
    members = members_of(code)
    return Scope(code, year, () if members == (code,) else members)


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 (no limit) or more")
    return value


def _csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().rstrip("\n")


# -- rate ------------------------------------------------------------------------------------


def _register_rate(subparsers: Subcommands) -> None:
    parser = subparsers.add_parser(
        "rate",
        help="the disbursement rate of a jurisdiction's year against one or more plans",
        description=(
            "Print the disbursement rate of a jurisdiction's annual plans for a fiscal year: "
            "all net disbursement of that capital, over each named plan's envelope (its latest "
            "version as of the date, or the version named with CODE@VERSION), and over the sum "
            "of each named authority's annual plans across the scope (--authority). Reports "
            "quote the same disbursement against several plans, e.g. the city's and the Prime "
            "Minister's; the Ministry of Finance quotes the country's (--jurisdiction VN "
            "--authority prime_minister). With neither --plan nor --authority, each authority "
            "that assigned one of the scope's plans is summed. Rates are rounded half up to one "
            "decimal."
        ),
    )
    _scope_arguments(parser)
    parser.add_argument(
        "--plan",
        dest="plans",
        action="append",
        default=[],
        type=_denominator,
        metavar="CODE[@VERSION]",
        help="a plan of the scope whose envelope is a denominator (repeat for several)",
    )
    parser.add_argument(
        "--authority",
        dest="authorities",
        action="append",
        default=[],
        choices=[authority.value for authority in Authority],
        help="sum the annual plans this authority assigned across the scope as one denominator "
        "(repeat for several)",
    )
    _add_as_of(parser)
    parser.add_argument(
        "--exclude-extended",
        action="store_true",
        help="leave out capital extended into the next year (and what was paid from it)",
    )
    parser.add_argument(
        "--added-after",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="leave out envelope increases by adjustments effective after this day",
    )
    _add_format(parser, ("table", "json"))
    parser.set_defaults(handler=run_rate)


def _denominator(text: str) -> Denominator:
    code, at, version = text.partition("@")
    if not code:
        raise argparse.ArgumentTypeError(f"{text!r} names no plan")
    if not at:
        return Denominator(code)
    if not version.isdigit() or int(version) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: the version after @ must be 1 or more")
    return Denominator(code, int(version))


def run_rate(args: argparse.Namespace, context: CliContext) -> int:
    point = as_of_point(args)
    scope = scope_of(args.jurisdiction, args.year)
    exclusions = Exclusions(extended=args.exclude_extended, added_after=args.added_after)
    authorities = args.authorities or (None if not args.plans else [])
    store = context.caught_up()
    try:
        found = scope_rates(
            store, scope, args.plans, authorities=authorities, exclusions=exclusions, as_of=point
        )
    except NotYetKnown as error:
        raise CliError(NotYetKnown.code, str(error), EXIT_REFUSED) from None
    except QueryError as error:
        raise CliError(error.code, str(error), EXIT_REFUSED) from None
    except PlanOutsideScope as error:
        raise CliError(PlanOutsideScope.code, str(error), EXIT_REFUSED) from None
    if args.format == "json":
        for rate in found.rates:
            print(json_line(_rate_json(rate)), file=context.stdout)
        for summed in found.summed:
            print(json_line(_summed_json(summed)), file=context.stdout)
        return EXIT_OK
    print(render_rates(scope, point, exclusions, found.rates, found.summed), file=context.stdout)
    return EXIT_OK


def render_rates(
    scope: Scope,
    point: AsOf | None,
    exclusions: Exclusions,
    rates: Sequence[DisbursementRate],
    summed: Sequence[SummedRate] = (),
) -> str:
    left_out = []
    if exclusions.extended:
        left_out.append("capital extended into the next year")
    if exclusions.added_after is not None:
        left_out.append(f"envelope added after {exclusions.added_after.isoformat()}")
    lines = [
        f"Disbursement of {scope.jurisdiction}'s annual plans for {scope.fiscal_year}, "
        f"{describe_as_of(point)}; amounts in VND",
        f"disbursed: {vnd((rates or summed)[0].disbursed)}" if rates or summed else "",
    ]
    if scope.members:
        lines[0] = lines[0].replace(
            f"{scope.jurisdiction}'s annual plans",
            f"the annual plans of {scope.jurisdiction} ({len(scope.members)} jurisdictions)",
        )
    if left_out:
        lines.append(f"left out: {'; '.join(left_out)}")
    columns = [
        Column("plan"),
        Column("assigned by"),
        Column("version", numeric=True),
        Column("envelope", numeric=True),
        Column("excluded", numeric=True),
        Column("denominator", numeric=True),
        Column("rate", numeric=True),
    ]
    rows = [
        [
            rate.plan_code,
            rate.authority.replace("_", " "),
            str(rate.plan_version),
            vnd(rate.envelope),
            vnd(rate.excluded_extended + rate.excluded_added_late),
            vnd(rate.denominator),
            shown_rate(rate.ratio),
        ]
        for rate in rates
    ]
    rows += [
        [
            f"sum of {len(rate.plans)} plan{'' if len(rate.plans) == 1 else 's'}",
            rate.authority.replace("_", " "),
            "",
            vnd(rate.envelope),
            vnd(rate.excluded_extended + rate.excluded_added_late),
            vnd(rate.denominator),
            shown_rate(rate.ratio),
        ]
        for rate in summed
    ]
    return "\n".join([*lines, "", render_table(columns, rows)])


def _summed_json(rate: SummedRate) -> dict[str, Any]:
    plans = [f"{code}@{version}" for code, version in rate.plans]
    return _figures_json(rate, {"authority": rate.authority, "plans": plans})


def _rate_json(rate: DisbursementRate) -> dict[str, Any]:
    return _figures_json(
        rate,
        {"plan": rate.plan_code, "authority": rate.authority, "plan_version": rate.plan_version},
    )


def _figures_json(rate: RateFigures, denominator: dict[str, Any]) -> dict[str, Any]:
    """A rate as one JSON object: its scope, what its ``denominator`` is, and its figures."""
    return {
        "jurisdiction": rate.scope.jurisdiction,
        "fiscal_year": rate.scope.fiscal_year,
        **denominator,
        "as_of": as_of_json(rate.as_of),
        "exclude_extended": rate.exclusions.extended,
        "added_after": rate.exclusions.added_after,
        "disbursed": rate.disbursed,
        "envelope": rate.envelope,
        "excluded_extended": rate.excluded_extended,
        "excluded_added_late": rate.excluded_added_late,
        "denominator": rate.denominator,
        "rate_percent": percent(rate.ratio),
    }


# -- balances --------------------------------------------------------------------------------


def _register_balances(subparsers: Subcommands) -> None:
    parser = subparsers.add_parser(
        "balances",
        help="capital and disbursement grouped by project, plan, source, investor, …",
        description=(
            "Print the balances of allocation lines grouped by one dimension: allocated, "
            "transferred in and out, cut, capital after movements, disbursed, advances "
            "outstanding, lapsed, undisbursed and the disbursement rate (disbursed over "
            "capital). Projects are grouped under the investor accountable now."
        ),
    )
    parser.add_argument("--by", required=True, choices=DIMENSIONS, help="how to group")
    parser.add_argument(
        "--jurisdiction",
        metavar="CODE",
        help="only plans of this jurisdiction, at any level (VN: every province and ministry)",
    )
    parser.add_argument("--year", type=int, metavar="YYYY", help="only this fiscal year")
    parser.add_argument("--plan", metavar="CODE", help="only lines of this plan")
    parser.add_argument(
        "--plan-kind", choices=("annual", "medium_term"), help="only plans of this kind"
    )
    parser.add_argument("--source", metavar="SOURCE", help="only this capital source")
    parser.add_argument("--investor", metavar="CODE", help="only this investor's projects")
    parser.add_argument("--sector", metavar="SECTOR", help="only projects of this sector")
    parser.add_argument("--program", metavar="PROGRAM", help="only projects of this program")
    parser.add_argument("--province", metavar="CODE", help="only projects in this province")
    parser.add_argument("--status", metavar="STATUS", help="only projects with this status")
    parser.add_argument(
        "--sort",
        default="key",
        choices=[*SORTS, RATE],
        help="order by the group's key (default), a balance, or the exact rate",
    )
    parser.add_argument("--descending", action="store_true", help="largest first")
    parser.add_argument(
        "--limit", type=_limit, default=50, metavar="N", help="at most N groups (0: all)"
    )
    parser.add_argument(
        "--offset", type=_limit, default=0, metavar="N", help="skip the first N groups"
    )
    _add_as_of(parser)
    _add_format(parser)
    parser.set_defaults(handler=run_balances)


def run_balances(args: argparse.Namespace, context: CliContext) -> int:
    point = as_of_point(args)
    filters = BalanceFilter(
        plan_code=args.plan,
        source=args.source,
        investor_code=args.investor,
        program=args.program,
        sector=args.sector,
        province=args.province,
        jurisdiction=None if args.jurisdiction is None else _scoped(args.jurisdiction),
        fiscal_year=args.year,
        plan_kind=args.plan_kind,
        status=args.status,
    )
    limit = args.limit or None
    if args.offset and limit is None:
        raise CliError("usage", "--offset needs a --limit", EXIT_USAGE)
    store = context.caught_up()
    page = balances(
        store,
        args.by,
        filters=filters,
        sort=args.sort,
        descending=args.descending,
        limit=limit,
        offset=args.offset,
        as_of=point,
    )
    if args.format == "json":
        for item in page.items:
            print(json_line({"by": args.by, **_balance_record(item)}), file=context.stdout)
    elif args.format == "csv":
        header = ["key", "label", *FIGURES, "rate_percent"]
        rows = [list(_balance_record(item).values()) for item in page.items]
        print(_csv(header, rows), file=context.stdout)
    else:
        print(render_balances(args.by, point, page.items), file=context.stdout)
        shown = f"{page.offset + 1:,}–{page.offset + len(page.items):,}" if page.items else "none"
        print(f"\n{shown} of {page.total:,} {args.by} groups", file=context.stdout)
    return EXIT_OK


def _scoped(code: str) -> str | tuple[str, ...]:
    members = members_of(code)
    return code if members == (code,) else members


def _balance_record(balance: GroupBalance) -> dict[str, Any]:
    record: dict[str, Any] = {"key": balance.key, "label": balance.label}
    record.update(balance.figures())
    record["rate_percent"] = percent(balance.disbursement_rate)
    return record


def render_balances(by: str, point: AsOf | None, items: Sequence[GroupBalance]) -> str:
    columns = [
        Column(by),
        Column("allocated", numeric=True),
        Column("moved in/out", numeric=True),
        Column("cut", numeric=True),
        Column("capital", numeric=True),
        Column("disbursed", numeric=True),
        Column("advances out", numeric=True),
        Column("lapsed", numeric=True),
        Column("undisbursed", numeric=True),
        Column("rate", numeric=True),
        Column("name"),
    ]
    rows = [
        [
            item.key,
            vnd(item.allocated),
            _signed(item.net_transferred),
            vnd(item.cut),
            vnd(item.capital),
            vnd(item.disbursed),
            vnd(item.advances_outstanding),
            vnd(item.lapsed),
            vnd(item.undisbursed),
            shown_rate(item.disbursement_rate),
            item.label if item.label != item.key else "",
        ]
        for item in items
    ]
    heading = f"Balances by {by}, {describe_as_of(point)}; amounts in VND"
    return heading + "\n\n" + render_table(columns, rows)


def _signed(amount: int) -> str:
    return f"{amount:+,}" if amount else "0"


# -- watch list ------------------------------------------------------------------------------


def _register_watchlist(subparsers: Subcommands) -> None:
    parser = subparsers.add_parser(
        "watchlist",
        help="projects or investors disbursing below a threshold or the average",
        description=(
            "List the projects (or investors) of a jurisdiction's annual plans for a fiscal "
            "year whose disbursement rate (disbursed over the capital they were given) is below "
            "a threshold, e.g. the national average, or below the scope's own average when no "
            "threshold is given; slowest first, with the investor accountable now and the "
            "disbursement it would take to reach the threshold."
        ),
    )
    _scope_arguments(parser)
    parser.add_argument("--level", choices=[level.value for level in WatchLevel], default="project")
    parser.add_argument(
        "--below",
        type=_percent,
        metavar="PERCENT",
        help="the threshold in percent, e.g. 45.5 (default: the scope's own average rate)",
    )
    parser.add_argument(
        "--limit", type=_limit, default=0, metavar="N", help="at most N entries (0: all)"
    )
    _add_as_of(parser)
    _add_format(parser)
    parser.set_defaults(handler=run_watchlist)


def _percent(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage")
    return value / 100


WATCH_FIELDS = (
    "key",
    "label",
    "investor_code",
    "investor_name",
    "projects",
    "status",
    "capital",
    "disbursed",
    "rate_percent",
    "shortfall",
)


def run_watchlist(args: argparse.Namespace, context: CliContext) -> int:
    point = as_of_point(args)
    scope = scope_of(args.jurisdiction, args.year)
    store = context.caught_up()
    found = watch_list(
        store,
        scope,
        level=args.level,
        threshold=args.below,
        as_of=point,
        limit=args.limit or None,
    )
    if args.format == "json":
        for entry in found.entries:
            record = {"level": found.level.value, **_watch_record(entry)}
            print(json_line(record), file=context.stdout)
    elif args.format == "csv":
        rows = [list(_watch_record(entry).values()) for entry in found.entries]
        print(_csv(WATCH_FIELDS, rows), file=context.stdout)
    else:
        print(render_watchlist(found), file=context.stdout)
    return EXIT_OK


def _watch_record(entry: WatchEntry) -> dict[str, Any]:
    return {
        "key": entry.key,
        "label": entry.label,
        "investor_code": entry.investor_code,
        "investor_name": entry.investor_name,
        "projects": entry.projects,
        "status": entry.status,
        "capital": entry.capital,
        "disbursed": entry.disbursed,
        "rate_percent": percent(entry.ratio),
        "shortfall": entry.shortfall,
    }


@dataclass(frozen=True)
class _Reference:
    label: str
    rate: str


def _reference(found: WatchList) -> _Reference:
    if found.reference_is_scope_average:
        return _Reference("the scope's average", shown_rate(found.scope_ratio))
    shown = (found.reference * 100).quantize(Decimal("0.1"))
    return _Reference("the threshold", f"{shown}%")


def render_watchlist(found: WatchList) -> str:
    reference = _reference(found)
    scope = found.scope
    heading = (
        f"{found.level.value.capitalize()}s of {scope.jurisdiction}'s annual plans for "
        f"{scope.fiscal_year} below {reference.label} of {reference.rate}, "
        f"{describe_as_of(found.as_of)} (scope: {shown_rate(found.scope_ratio)} of "
        f"{vnd(found.scope_ratio.denominator)} VND); slowest first, amounts in VND"
    )
    if not found.entries:
        return heading + "\n\nnone"
    project_level = found.level is WatchLevel.PROJECT
    columns = [
        Column(found.level.value),
        *([Column("status")] if project_level else [Column("projects", numeric=True)]),
        *([Column("investor")] if project_level else []),
        Column("capital", numeric=True),
        Column("disbursed", numeric=True),
        Column("rate", numeric=True),
        Column("shortfall", numeric=True),
        Column("name"),
    ]
    rows = [
        [
            entry.key,
            *([(entry.status or "").replace("_", " ")] if project_level else []),
            *([entry.investor_code] if project_level else [f"{entry.projects:,}"]),
            vnd(entry.capital),
            vnd(entry.disbursed),
            shown_rate(entry.ratio),
            vnd(entry.shortfall),
            entry.label,
        ]
        for entry in found.entries
    ]
    return heading + "\n\n" + render_table(columns, rows)


# -- jurisdictions ---------------------------------------------------------------------------


def _register_jurisdictions(subparsers: Subcommands) -> None:
    parser = subparsers.add_parser(
        "jurisdictions",
        help="the known jurisdictions: the country, provinces, central ministries and agencies",
        description=(
            "Print the list of jurisdictions a plan may record and a query may name, with the "
            "jurisdiction each sits under, its level and, for provinces, its official code "
            "(mã đơn vị hành chính)."
        ),
    )
    parser.add_argument(
        "--on",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="only the jurisdictions that hold on this day",
    )
    parser.add_argument(
        "--level",
        choices=[level.value for level in JurisdictionLevel],
        help="only jurisdictions of this level",
    )
    _add_format(parser, ("table", "json"))
    parser.set_defaults(handler=run_jurisdictions)


def run_jurisdictions(args: argparse.Namespace, context: CliContext) -> int:
    listed = shipped_jurisdictions()
    entries = list(listed) if args.on is None else listed.valid_on(args.on)
    if args.level is not None:
        entries = [entry for entry in entries if entry.level.value == args.level]
    if args.format == "json":
        for entry in entries:
            record = {
                "code": entry.code,
                "official_code": entry.official_code,
                "level": entry.level.value,
                "name_vi": entry.name_vi,
                "name_en": entry.name_en,
                "parent": entry.parent,
                "valid_from": entry.valid_from,
                "valid_to": entry.valid_to,
                "succeeded_by": list(entry.succeeded_by),
            }
            print(json_line(record), file=context.stdout)
        return EXIT_OK
    columns = [Column("code"), Column("under"), Column("level"), Column("official"), Column("name")]
    rows = [
        [entry.code, entry.parent or "", entry.level.value.replace("_", " "),
         entry.official_code or "", entry.name_vi]
        for entry in entries
    ]  # fmt: skip
    print(render_table(columns, rows), file=context.stdout)
    return EXIT_OK
