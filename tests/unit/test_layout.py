"""The layers are top-level folders, importable as ``capledger.<layer>`` through links.

Why links and not setuptools' ``package-dir`` mapping: docs/architecture.md ("Folders are
layers"). A checkout without symbolic links (Git on Windows with ``core.symlinks=false``) turns
each link into a small text file holding its target; these tests say so plainly instead of an
``ImportError`` far away.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
LAYERS = ("domain", "application", "projections", "streams", "api")


@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_folder_is_linked_into_the_package(layer: str) -> None:
    link = REPO / "capledger" / layer
    assert link.is_symlink() and link.resolve() == (REPO / layer).resolve(), (
        f"capledger/{layer} must be a symbolic link to ../{layer}: this checkout has no symbolic "
        "links (on Windows: Developer Mode and `git config core.symlinks true`, then check out "
        "again)"
    )


def test_the_package_links_exactly_the_five_layer_folders() -> None:
    linked = {path.name for path in (REPO / "capledger").iterdir() if path.is_symlink()}
    assert linked == set(LAYERS)
