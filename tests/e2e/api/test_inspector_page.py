"""Done when: the inspector page, opened in headless Chromium (Debian's ``chromium``) against the
real API under uvicorn with Hải Phòng 2021 recorded over HTTP, shows a project's timeline with
the history endpoint's running balances, the plan's S-curve against each plan (33.8% and 63.1%)
and a wrong key's problem; and the page is served under a same-origin-only CSP.

Chromium runs with ``--dump-dom``: the DOM after the page's requests have settled (virtual
time pauses while requests are pending). The page marks ``<body data-state>`` ``ready`` or
``error`` once it has shown everything it asked for, so the tests read a finished page.

Without chromium on PATH these browser tests are skipped, unless ``CAPLEDGER_TEST_BROWSER=1``
(as ``make test`` sets): then a missing browser fails them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from capledger.api.routers.inspector import ASSETS
from capledger.cli.api import create_api_key
from capledger.demo import hai_phong
from capledger.demo.index import HaiPhongIndex
from capledger.projections.events import REPORTING_TZ
from capledger.settings import Settings, StoreSettings

from .test_demo_over_http import (
    free_port,
    operation_for,
    operations_by_command,
    request_for,
    wait_until_up,
)

pytestmark = pytest.mark.e2e

BROWSER_REQUIRED = os.environ.get("CAPLEDGER_TEST_BROWSER") == "1"
#: Generous: a safeguard against a hung browser, not a measure of speed.
BROWSER_DEADLINE_S = 180
#: XML namespaces are names, never fetched: the only URLs the page's files may hold.
NAMESPACES = {"http://www.w3.org/2000/svg"}


# -- the served app -------------------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    url: str
    admin: str
    inspector: str
    index: HaiPhongIndex

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(
            f"{self.url}{path}",
            params=params,
            headers={"X-API-Key": self.inspector},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        return response.json()


def server_env(data_dir: Path, port: int) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("CAPLEDGER_")},
        "CAPLEDGER_DATA_DIR": str(data_dir),
        "CAPLEDGER_API_PORT": str(port),
        "CAPLEDGER_API_WRITE_RATE_PER_S": "100000",
        "CAPLEDGER_API_WRITE_BURST": "100000",
        "CAPLEDGER_LOG_FORMAT": "json",
        "CAPLEDGER_LOG_LEVEL": "WARNING",
    }


def record_hai_phong(url: str, token: str) -> HaiPhongIndex:
    """Hải Phòng 2021's demo commands, each sent to the operation of its command type."""
    commands, index = hai_phong.build()
    with httpx.Client(base_url=url, headers={"X-API-Key": token}, timeout=60) as client:
        operations = operations_by_command(client.get("/openapi.json").json())
        outcomes: dict[str, dict[str, Any]] = {}
        for command in commands:
            operation = operation_for(command, operations)
            path, body = request_for(command, operation, outcomes)
            response = client.request(
                operation.method, path, json=body, headers={"Idempotency-Key": command.command_id}
            )
            assert response.status_code == 201, (command.key, response.text)
            outcomes[command.key] = response.json()
    return index


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("inspected")
    settings = Settings(store=StoreSettings(data_dir=data_dir))
    admin = create_api_key("demo-clerk", "administrator", settings=settings).token
    inspector = create_api_key("auditor", "inspector", settings=settings).token
    port = free_port()
    log = data_dir / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "capledger", "serve"],
            env=server_env(data_dir, port),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process, log)
        index = record_hai_phong(url, admin)
        yield Served(url, admin, inspector, index)
    finally:
        process.terminate()
        process.wait(timeout=30)


# -- the browser ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        if BROWSER_REQUIRED:
            pytest.fail(
                "CAPLEDGER_TEST_BROWSER=1 but chromium is not on PATH (apt-get install chromium)"
            )
        pytest.skip(
            "chromium is not on PATH (apt-get install chromium); with CAPLEDGER_TEST_BROWSER=1 "
            "this fails instead"
        )
    return found


@pytest.fixture
def open_page(chromium: str, served: Served, tmp_path: Path) -> Callable[[dict[str, str]], Node]:
    """Opens /inspector/ with the fragment's parameters; the DOM once the page has settled."""

    def open_(fragment: dict[str, str]) -> Node:
        profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
        result = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=10000",
                "--dump-dom",
                f"{served.url}/inspector/#{urlencode(fragment)}",
            ],
            capture_output=True,
            timeout=BROWSER_DEADLINE_S,
            check=False,
        )
        assert result.returncode == 0, result.stderr.decode(errors="replace")[-4000:]
        page = parse(result.stdout.decode())
        body = page.first(tag="body")
        assert body.attrs.get("data-csp-violations") == "0", "the page broke its own CSP"
        return page

    return open_


# -- a small DOM ----------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}  # fmt: skip


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        """Descendants with this tag and these attribute values (``class_`` for class)."""
        wanted = {name.rstrip("_").replace("_", "-"): value for name, value in attrs.items()}
        found = []
        for child in self.children:
            if isinstance(child, str):
                continue
            if (tag is None or child.tag == tag) and all(
                child.attrs.get(name) == value for name, value in wanted.items()
            ):
                found.append(child)
            found.extend(child.all(tag, **attrs))
        return found

    def first(self, tag: str | None = None, **attrs: str) -> Node:
        found = self.all(tag, **attrs)
        assert found, f"no <{tag} {attrs}> in the page"
        return found[0]

    def field(self, name: str) -> Node:
        return self.first(data_field=name)


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.open = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {name: value or "" for name, value in attrs})
        self.open[-1].children.append(node)
        if tag not in VOID:
            self.open.append(node)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.open) - 1, 0, -1):
            if self.open[depth].tag == tag:
                del self.open[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.open[-1].children.append(data)


def parse(html: str) -> Node:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def digits(text: str) -> str:
    """A Vietnamese-grouped amount (4.603.180.000.000) as its digits."""
    return text.replace(".", "")


def today_in_vietnam() -> str:
    return datetime.now(REPORTING_TZ).date().isoformat()


# -- the page in the browser ----------------------------------------------------------------


def test_the_timeline_shows_every_event_with_the_running_balance_the_history_gives(
    served: Served, open_page: Callable[[dict[str, str]], Node]
) -> None:
    project = served.index.projects[0]
    history = served.get(f"/projects/{project}/history", limit=500)

    page = open_page({"key": served.inspector, "project": project})

    assert page.first(tag="body").attrs["data-state"] == "ready"
    rows = page.first(tag="tbody", id="timeline-rows").all("tr")
    assert [row.attrs["data-version"] for row in rows] == [
        str(item["version"]) for item in history["items"]
    ]
    for row, item in zip(rows, history["items"], strict=True):
        for name in ("allocated", "capital", "disbursed", "undisbursed"):
            cell = row.field(name)
            assert cell.attrs["data-value"] == item["balances"][name]
            assert digits(cell.text()) == item["balances"][name]
        assert row.field("amount").attrs["data-value"] == (item["amount"] or "")
        assert row.field("event").text() == item["event"]
        assert row.field("effective_on").text() == item["effective_on"]
        assert row.field("principal").text() == "administrator:demo-clerk"
        assert (
            item["decision"] is None or item["decision"]["number"] in row.field("decision").text()
        )
        assert row.attrs["data-late"] == str(item["late"]).lower()
    # The project's own plan gives the S-curve when the link names none.
    plans = {line["plan_code"] for line in served.get(f"/projects/{project}")["lines"]}
    assert plans & {node.attrs["data-plan"] for node in page.all("polyline")}
    # The key is kept out of the markup (and, with the fragment, off the address bar).
    assert served.inspector not in str(page.all())


def test_a_long_timeline_is_read_a_page_at_a_time_from_the_cursor(
    served: Served, open_page: Callable[[dict[str, str]], Node]
) -> None:
    project = served.index.projects[0]
    head = served.get(f"/projects/{project}/history", limit=1)["head_version"]
    assert head > 8, "the project needs more events than two pages of four"

    page = open_page({"key": served.inspector, "project": project, "limit": "4", "after": "4"})

    rows = page.first(tag="tbody", id="timeline-rows").all("tr")
    assert [row.attrs["data-version"] for row in rows] == ["5", "6", "7", "8"]
    assert "disabled" not in page.first(id="next-page").attrs
    assert "disabled" not in page.first(id="previous-page").attrs
    assert f"versions 5–8 of {head}" in page.first(id="timeline-summary").text()


def test_the_s_curve_draws_each_plan_month_by_month_with_33_8_and_63_1_percent(
    served: Served, open_page: Callable[[dict[str, str]], Node]
) -> None:
    index = served.index
    as_of = {"as_of": index.as_of.isoformat(), "known": today_in_vietnam()}
    months = served.get(
        "/rates/monthly", jurisdiction="HP", fiscal_year=2021, plan=index.pm_plan, **as_of
    )["points"]

    page = open_page(
        {"key": served.inspector, "project": index.projects[0], "plan": index.pm_plan, **as_of}
    )

    assert page.first(tag="body").attrs["data-state"] == "ready"
    chart = page.first(tag="svg", id="scurve")
    assert chart.attrs["role"] == "img" and chart.attrs["aria-labelledby"]
    lines = {
        line.attrs["data-plan"]: line.attrs["points"].split() for line in chart.all("polyline")
    }
    assert set(lines) == {index.city_plan, index.pm_plan}
    assert all(len(points) == len(months) == 12 for points in lines.values())
    labels = {node.attrs["data-plan"]: node.text() for node in page.all(class_="rate-label")}
    assert labels == {index.city_plan: "33.8%", index.pm_plan: "63.1%"}
    series = page.first(tag="tbody", id="series-rows").all("tr")
    assert [row.attrs["data-month"] for row in series] == [point["month"] for point in months]
    assert [row.field("cumulative").attrs["data-value"] for row in series] == [
        point["cumulative"] for point in months
    ]


def test_a_wrong_key_shows_the_401_problem_s_title(
    served: Served, open_page: Callable[[dict[str, str]], Node]
) -> None:
    page = open_page({"key": "clk_wrong_key", "project": served.index.projects[0]})

    assert page.first(tag="body").attrs["data-state"] == "error"
    problems = page.first(id="problems")
    assert "hidden" not in problems.attrs and problems.attrs["role"] == "alert"
    titles = {node.text() for node in problems.all(class_="problem-title")}
    assert titles == {"Unauthenticated (401)"}
    assert "unknown or revoked" in problems.text()
    assert page.first(tag="tbody", id="timeline-rows").all("tr") == []


# -- the page over HTTP ---------------------------------------------------------------------


def test_the_page_and_its_files_are_served_under_a_same_origin_csp(served: Served) -> None:
    page = httpx.get(f"{served.url}/inspector/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    files = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sorted(files) == ["inspector.css", "inspector.js"]
    for response in (page, *(httpx.get(f"{served.url}/inspector/{name}") for name in files)):
        assert response.status_code == 200, response.url
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "'unsafe-inline'" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"
    moved = httpx.get(f"{served.url}/inspector")
    assert moved.status_code == 308 and moved.headers["location"] == "inspector/"
    missing = httpx.get(f"{served.url}/inspector/secrets.txt")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_the_page_s_files_fetch_nothing_from_another_host() -> None:
    folder = resources.files("capledger.api") / "inspector"
    for name in ASSETS:
        text = (folder / name).read_text(encoding="utf-8")
        urls = set(re.findall(r"https?://[^\s\"'`)]+", text))
        assert urls <= NAMESPACES, (name, urls)
        # Nor a protocol-relative address ("//host/…" in an attribute, a string or url()).
        assert not re.search(r"[\"'`(=]\s*//", text), name
