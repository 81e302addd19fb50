"""The shipped list of jurisdictions (``vn_jurisdictions.json`` beside this module), loaded once.

The list is reference data the API and the CLI read to resolve a scope
(:class:`capledger.domain.jurisdictions.Jurisdictions`); it is read once per process and never
changes while the process runs. A new edition of the list is a new version of this file.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from capledger.domain.jurisdictions import Jurisdictions

FILE_NAME = "vn_jurisdictions.json"


@cache
def shipped_jurisdictions() -> Jurisdictions:
    """The list shipped with the package, checked (``Jurisdictions.from_document``)."""
    text = resources.files("capledger.rules").joinpath(FILE_NAME).read_text(encoding="utf-8")
    return Jurisdictions.from_document(json.loads(text))
