"""Real ``capledger serve`` processes on loopback, on a test's store (a SQLite file, or a
PostgreSQL schema with ``CAPLEDGER_TEST_POSTGRES=1``), with the API section a test chooses.

Each process is given its settings as environment variables (``capledger.settings.environment``),
as an operator's would be; several processes may share one store.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from builders import drop_postgres_schemas

from capledger.api.settings import ApiSettings
from capledger.settings import Settings, environment

STARTUP_DEADLINE_S = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Served:
    url: str
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


def shared_settings(store: Settings, tmp_path: Path, **api: object) -> Settings:
    """The test's store with its own API store (file or schema) and read model, and ``api``."""
    suffix = uuid4().hex[:10]
    read_model = store.read_model.model_copy(update={"schema_name": f"rmsrv_{suffix}"})
    api_settings = ApiSettings.model_validate(
        {
            "store_file": tmp_path / "api.sqlite3",
            "store_schema": f"apisrv_{suffix}",
            "write_rate_per_s": 10_000,
            "write_burst": 100_000,
            **api,
        }
    )
    return store.model_copy(update={"read_model": read_model, "api": api_settings})


def drop_schemas(settings: Settings) -> None:
    drop_postgres_schemas(settings, settings.api)


@contextmanager
def serve(settings: Settings, log: Path, **api: object) -> Iterator[Served]:
    """``capledger serve`` in a process of its own with ``settings`` (``api`` overriding
    fields of its API section), up and answering /healthz; terminated on exit."""
    port = free_port()
    chosen = settings.api.model_copy(update={"port": port, **api})
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CAPLEDGER_")},
        **environment(settings.model_copy(update={"api": chosen})),
        "CAPLEDGER_LOG_FORMAT": "json",
        "CAPLEDGER_LOG_LEVEL": "WARNING",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "capledger", "serve"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    served = Served(f"http://127.0.0.1:{port}", "127.0.0.1", port, process, log)
    try:
        wait_until_up(served)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def wait_until_up(served: Served) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            pytest.fail(f"the server exited: {served.log.read_text()}")
        try:
            if httpx.get(f"{served.url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"the server did not answer /healthz: {served.log.read_text()}")
