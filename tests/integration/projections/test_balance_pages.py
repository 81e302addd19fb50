"""Pages of balances: the total is the number of groups whichever page is asked for, counted
again only when the page itself cannot tell (a full page, or one past the end)."""

from __future__ import annotations

import pytest

from capledger.application.ledger import Ledger
from capledger.projections import EmbeddedRunner, ReadModelStore
from capledger.projections.queries import Dimension, balances
from capledger.projections.queries.balances import BalanceFilter

from .haiphong import record_hai_phong
from .support import Clock

pytestmark = pytest.mark.integration

PROJECTS = ["HP-001", "HP-002", "HP-003", "HP-004"]


@pytest.fixture
def hai_phong(ledger: Ledger, clock: Clock, read_model: ReadModelStore) -> ReadModelStore:
    record_hai_phong(ledger, clock)
    EmbeddedRunner(read_model, ledger.recorder).catch_up()
    return read_model


@pytest.mark.parametrize("sort", ["key", "disbursed", "rate"])
@pytest.mark.parametrize(
    ("limit", "offset"),
    [(None, 0), (10, 0), (4, 0), (3, 0), (3, 3), (2, 2), (1, 3), (2, 4), (2, 9), (1, 0)],
)
def test_every_page_counts_all_four_projects(
    hai_phong: ReadModelStore, sort: str, limit: int | None, offset: int
) -> None:
    everything = balances(hai_phong, Dimension.PROJECT, sort=sort, limit=None).items
    page = balances(hai_phong, Dimension.PROJECT, sort=sort, limit=limit, offset=offset)

    assert page.total == len(everything) == len(PROJECTS)
    end = None if limit is None else offset + limit
    assert [item.key for item in page.items] == [item.key for item in everything[offset:end]]


def test_a_filter_matching_nothing_has_an_empty_first_page(hai_phong: ReadModelStore) -> None:
    page = balances(hai_phong, Dimension.PROJECT, filters=BalanceFilter(province="nowhere"))

    assert (page.items, page.total) == ([], 0)


def test_peeking_reads_the_current_project_without_copying_it(ledger: Ledger, clock: Clock) -> None:
    record_hai_phong(ledger, clock)

    # HP-004 moved from SYT to BQL-YT on 1 August.
    assert ledger.peek_project("HP-004", lambda project: project.investor_code) == "BQL-YT"
    assert ledger.peek_project("HP-004", id) == ledger.peek_project("HP-004", id)
    assert ledger.project("HP-004") is not ledger.project("HP-004")
    assert ledger.peek_plan("HP-2021-HDND", lambda plan: plan.jurisdiction) == "HP"
