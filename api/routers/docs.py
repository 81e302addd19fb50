"""The interactive API documentation (Swagger UI) at ``/docs``, served from the installed
package: the page and its starter script (``capledger/api/swagger/``) with Swagger UI's own
bundle and stylesheet vendored beside them (``swagger-ui-dist``, Apache-2.0: its LICENSE and
NOTICE are in the same folder). Nothing is loaded from another host, and every file is served
under a Content-Security-Policy that allows scripts, styles and requests to this origin only
(images also as ``data:`` URIs, which Swagger UI draws its icons with).

The OpenAPI document itself stays at ``/openapi.json``. There is no ``/redoc``: ReDoc's bundle
would be another megabyte of vendored script, and it needs inline styles.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from ..pages import PackagedPage
from ..problems import ApiProblem

INDEX = "index.html"
#: Swagger UI's release vendored here (``npm pack swagger-ui-dist@…``, files unchanged).
SWAGGER_UI_VERSION = "5.36.0"
ASSETS: dict[str, str] = {
    INDEX: "text/html; charset=utf-8",
    "docs.js": "text/javascript; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
}
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
PAGE = PackagedPage(
    "swagger",
    ASSETS,
    CONTENT_SECURITY_POLICY,
    long_cached=frozenset({"swagger-ui-bundle.js", "swagger-ui.css"}),
)

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def docs_page() -> Response:
    return PAGE.response(INDEX)


@router.get("/docs/{name}")
def docs_asset(name: str) -> Response:
    if name not in PAGE or name == INDEX:
        raise ApiProblem(404, "not-found", f"the documentation has no file {name}")
    return PAGE.response(name)
