"""``capledger rules``: the law's rules the ledger enforces, and when each is in force."""

from __future__ import annotations

import argparse
from datetime import date

from capledger.bootstrap import load_rules
from capledger.domain.errors import InvalidValue
from capledger.domain.rules import (
    AdvanceRule,
    AutoExtensionRule,
    DisbursementDeadlineRule,
    EffectivePeriod,
    ExtensionLimitRule,
    Rule,
)
from capledger.domain.values import parse_calendar_date

from .context import CliContext
from .errors import EXIT_OK
from .subcommands import Subcommands

BUILT_IN = "the built-in file capledger/rules/vn_public_investment.json"
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip


def register(subparsers: Subcommands) -> None:
    parser = subparsers.add_parser(
        "rules",
        help="the rules in force and their effective periods",
        description=(
            "List the rules of the public investment law that the ledger enforces, each with "
            "its effective period and legal reference. Each event is judged by the rules in "
            "force on its effective date. The rules come from CAPLEDGER_RULES_FILE, or the "
            "built-in file when it is not set."
        ),
    )
    parser.add_argument(
        "--on",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="mark the rules in force on this date (default: today)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, context: CliContext) -> int:
    on: date = args.on or date.today()
    source = context.settings.rules_file or BUILT_IN
    print(f"rules from {source}; * = in force on {on.isoformat()}", file=context.stdout)
    for rule in load_rules(context.settings.rules_file).rules:
        mark = "*" if rule.period.covers(on) else " "
        print(f"\n{mark} {kind_of(rule)}, {describe_period(rule.period)}", file=context.stdout)
        print(f"    {statement(rule)}", file=context.stdout)
        if rule.reference:
            print(f"    reference: {rule.reference}", file=context.stdout)
    return EXIT_OK


def iso_date(text: str) -> date:
    try:
        return parse_calendar_date(text)
    except InvalidValue as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def describe_period(period: EffectivePeriod) -> str:
    if period.end is None:
        return f"from {period.start.isoformat()}, no end"
    return f"from {period.start.isoformat()} until {period.end.isoformat()} (exclusive)"


def kind_of(rule: Rule) -> str:
    if isinstance(rule, DisbursementDeadlineRule):
        return "disbursement deadline"
    if isinstance(rule, ExtensionLimitRule):
        return "extension limit"
    if isinstance(rule, AutoExtensionRule):
        return "automatic extension"
    return "advance"


def statement(rule: Rule) -> str:
    if isinstance(rule, DisbursementDeadlineRule):
        return (
            "an annual plan's capital may be disbursed until "
            f"{_day(rule.month, rule.day)} of the following year"
        )
    if isinstance(rule, ExtensionLimitRule):
        return (
            "an extension of the disbursement period may run to "
            f"{_day(rule.month, rule.day)} of the following year at most"
        )
    if isinstance(rule, AutoExtensionRule):
        return (
            f"capital added after {_day(rule.added_after_month, rule.added_after_day)} of the "
            "plan year is extended automatically"
        )
    return _advance_statement(rule)


def _advance_statement(rule: AdvanceRule) -> str:
    return (
        f"an advance is at most {basis_points(rule.cap_bp)} of the contract value and is fully "
        f"recovered when payments reach {basis_points(rule.full_recovery_bp)} of it"
    )


def basis_points(value: int) -> str:
    """10,000 bp = 100%; shown without a float, and without decimals when there are none."""
    whole, hundredths = divmod(value, 100)
    return f"{whole}%" if hundredths == 0 else f"{whole}.{hundredths:02d}%"


def _day(month: int, day: int) -> str:
    return f"{day} {MONTHS[month - 1]}"
