"""The inspector page: static HTML, one JavaScript module and one stylesheet (package data in
``capledger/api/inspector/``) that read the JSON endpoints with the visitor's API key.

The page itself needs no key: it holds no data, only the code that asks for it. It is served
under a Content-Security-Policy that allows nothing but this origin (no inline script or style,
no other host), so a value shown in the page cannot run as code and the key cannot leave.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse

from ..pages import PackagedPage
from ..problems import ApiProblem

INDEX = "index.html"
#: Every file the page is made of, with its media type; nothing else under /inspector/ exists.
ASSETS: dict[str, str] = {
    INDEX: "text/html; charset=utf-8",
    "inspector.js": "text/javascript; charset=utf-8",
    "inspector.css": "text/css; charset=utf-8",
}
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
PAGE = PackagedPage("inspector", ASSETS, CONTENT_SECURITY_POLICY)

router = APIRouter(include_in_schema=False)


@router.get("/inspector")
def inspector_without_slash() -> RedirectResponse:
    # Relative, so the page's own relative links work behind a proxy's root path too.
    return RedirectResponse("inspector/", status_code=308)


@router.get("/inspector/")
def inspector_page() -> Response:
    return PAGE.response(INDEX)


@router.get("/inspector/{name}")
def inspector_asset(name: str) -> Response:
    if name not in PAGE:
        raise ApiProblem(404, "not-found", f"the inspector has no file {name}")
    return PAGE.response(name)
