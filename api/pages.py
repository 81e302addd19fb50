"""Pages served from the installed package (the inspector, the API documentation): each file read
once, and every response with the same security headers: the page's Content-Security-Policy, no
MIME sniffing, no referrer (the inspector's key travels in the fragment), and a cache policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from fastapi import Response

ASSET_PACKAGE = "capledger.api"


@cache
def _read(folder: str, name: str) -> bytes:
    return (resources.files(ASSET_PACKAGE) / folder / name).read_bytes()


@dataclass(frozen=True)
class PackagedPage:
    """The files of one page under ``capledger/api/<folder>/``, by name with their media type;
    nothing else under the page's path exists."""

    folder: str
    assets: Mapping[str, str]
    content_security_policy: str
    #: Files that change only with a release (vendored): cached an hour; the rest revalidated,
    #: so a new release is never mixed with a cached older module.
    long_cached: frozenset[str] = field(default_factory=frozenset)

    def __contains__(self, name: object) -> bool:
        return name in self.assets

    def response(self, name: str) -> Response:
        headers = {
            "Content-Security-Policy": self.content_security_policy,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "public, max-age=3600" if name in self.long_cached else "no-cache",
        }
        return Response(_read(self.folder, name), media_type=self.assets[name], headers=headers)
