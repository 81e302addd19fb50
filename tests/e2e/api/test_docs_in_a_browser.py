"""/docs in headless Chromium against a real server: Swagger UI, served from the package,
draws every operation of the OpenAPI document and breaks no rule of the page's CSP."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import sqlite_settings

from .served import Served, serve, shared_settings
from .test_inspector_page import BROWSER_DEADLINE_S, BROWSER_REQUIRED, parse

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("docs")
    settings = shared_settings(sqlite_settings(root / "store"), root)
    with serve(settings, root / "server.log") as served:
        yield served


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        if BROWSER_REQUIRED:
            pytest.fail("CAPLEDGER_TEST_BROWSER=1 but chromium is not on PATH")
        pytest.skip("chromium is not on PATH (apt-get install chromium)")
    return found


def test_swagger_ui_draws_the_operations_within_its_csp(server: Served, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=15000",
            "--dump-dom",
            f"{server.url}/docs",
        ],
        capture_output=True,
        timeout=BROWSER_DEADLINE_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-4000:]
    page = parse(result.stdout.decode())
    assert page.first(tag="body").attrs.get("data-csp-violations") == "0"
    text = page.text()
    assert "/projects/{project_code}/payments" in text
    assert "capledger" in text
