"""The interactive docs (/docs) come from the installed package under a Content-Security-Policy:
no file of another host, no ReDoc page; the OpenAPI document stays at /openapi.json."""

from __future__ import annotations

import re

import pytest

from capledger.api.routers.docs import ASSETS, INDEX

from .support import Harness

pytestmark = pytest.mark.integration


def test_the_docs_page_loads_nothing_from_another_host(api: Harness) -> None:
    page = api.client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert not re.search(r"(src|href)=\"(https?:)?//", page.text)
    for name in ASSETS:
        if name == INDEX:
            continue
        served = api.client.get(f"/docs/{name}")
        assert served.status_code == 200, name
        assert served.headers["content-security-policy"] == policy
        assert served.headers["x-content-type-options"] == "nosniff"


def test_there_is_no_redoc_page_and_no_other_file(api: Harness) -> None:
    assert api.client.get("/redoc").status_code == 404
    assert api.client.get("/docs/oauth2-redirect.html").status_code == 404
    assert api.client.get("/openapi.json").status_code == 200
