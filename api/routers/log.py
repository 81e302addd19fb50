"""The verifiable log over HTTP (docs/verifiable-log.md): public, read-only but for witnesses.

- ``GET /log/checkpoint``: the latest signed checkpoint (C2SP signed note, ``text/plain``), with
  the stored witnesses' cosignatures appended as further signature lines;
- ``GET /log/tile/<L>/<N>[.p/<W>]`` and ``GET /log/tile/entries/<N>[.p/<W>]``: the C2SP
  ``tlog-tiles`` layout, read from the stored tree (full tiles are immutable);
- ``GET /log/proof/inclusion`` and ``GET /log/proof/consistency``: RFC 9162 proofs as JSON,
  hashes in base64;
- ``POST /log/cosignature``: a witness configured by the operator (``CAPLEDGER_TLOG_WITNESSES``)
  submits the checkpoint with its cosignature line; any other signer is refused.

A transparency log is public by nature: no API key is asked (docs/security.md). What the log
holds of an event is its position, stream id, version and hash, never its data.
"""

from __future__ import annotations

import base64
import re
import weakref
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from capledger.application.storage import (
    CheckpointStore,
    EventLog,
    LogTree,
    checkpoint_store,
    event_log,
    log_tree,
)
from capledger.application.tlog.checkpoint import Checkpoint, CheckpointError
from capledger.application.tlog.entry import LogEntry
from capledger.application.tlog.issuer import signed_with_cosignatures
from capledger.application.tlog.merkle import (
    ProofError,
    TileHashReader,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
)
from capledger.application.tlog.note import NoteError, NoteVerifier, open_note
from capledger.application.tlog.tiles import (
    TILE_WIDTH,
    Tile,
    TileError,
    entry_bundle,
    tile_data,
    tile_entries,
)

from ..context import ApiContext
from ..deps import Ctx
from ..problems import (
    BAD_NOTE,
    BAD_PROOF_REQUEST,
    NO_CHECKPOINT,
    NO_TILE,
    NOT_IN_LOG,
    TREE_TOO_SMALL,
    UNKNOWN_CHECKPOINT,
    UNKNOWN_WITNESS,
    ApiProblem,
    problem_responses,
)
from ..routing import ThreadedRoute

router = APIRouter(prefix="/log", tags=["verifiable log"], route_class=ThreadedRoute)

NOTE_TYPE = "text/plain; charset=utf-8"
TILE_TYPE = "application/octet-stream"
IMMUTABLE = "public, max-age=31536000, immutable"
#: A partial tile is replaced by a wider one as the log grows: cached briefly.
PARTIAL = "public, max-age=60"
LATEST = "no-cache"
#: Tile levels served: 8 levels of 8 tree levels cover 2**64 leaves.
MAX_TILE_LEVEL = 8
_INDEX = re.compile(r"((?:x[0-9]{3}/)*)([0-9]{3})(?:\.p/([0-9]{1,3}))?")
_TILE_RESPONSES = {
    200: {"content": {TILE_TYPE: {}}, "description": "The tile's bytes."},
    **problem_responses(404, 422, 503),
}
#: Memory for the tiles proofs read, kept between requests: the top levels' few tiles and as
#: many of the bottom level's as fit (a stored tile is at most 16,320 bytes).
KEPT_TILE_BYTES = 32 * 2**20
#: Bounds of sizes and indexes (a store's integers are signed 64-bit).
MAX_SIZE = 2**62
MAX_VERSION = 2**31 - 1


@dataclass(frozen=True)
class _LogStores:
    """What the routes read, found once per recorder (the tables made sure of then too)."""

    log: EventLog
    tree: LogTree
    checkpoints: CheckpointStore
    #: The tree's nodes for proofs, from tiles kept between requests (a node never changes).
    hashes: TileHashReader


def _stores(ctx: ApiContext) -> _LogStores:
    recorder = ctx.ledger.recorder
    stores = _opened.get(recorder)
    if stores is None:
        tree, checkpoints = log_tree(recorder), checkpoint_store(recorder)
        tree.create_log_tree()
        checkpoints.create_checkpoint_tables()
        hashes = TileHashReader(tree, keep_bytes=KEPT_TILE_BYTES)
        stores = _opened[recorder] = _LogStores(event_log(recorder), tree, checkpoints, hashes)
    return stores


#: The stores of each recorder this process serves (the log process may not have run).
_opened: weakref.WeakKeyDictionary[object, _LogStores] = weakref.WeakKeyDictionary()


def _latest(checkpoints: CheckpointStore) -> tuple[int, bytes, str]:
    latest = checkpoints.latest_checkpoint()
    if latest is None:
        raise ApiProblem(404, NO_CHECKPOINT, "the log has issued no checkpoint yet")
    return latest


def _tree_size(tree: LogTree) -> int:
    head = tree.log_tree_head()
    return 0 if head is None else head[0] + 1


@router.get(
    "/checkpoint",
    operation_id="log_checkpoint",
    summary="The latest signed checkpoint, with the witnesses' cosignatures",
    response_class=Response,
    responses={
        200: {"content": {NOTE_TYPE: {}}, "description": "A C2SP signed note (tlog-checkpoint)."},
        **problem_responses(404, 503),
    },
)
def latest_checkpoint(ctx: Ctx) -> Response:
    checkpoints = _stores(ctx).checkpoints
    size, _, note = _latest(checkpoints)
    body = signed_with_cosignatures(note, checkpoints.cosignatures(size))
    return Response(body, media_type=NOTE_TYPE, headers={"Cache-Control": LATEST})


def _tile(level: int, path: str) -> Tile:
    match = _INDEX.fullmatch(path)
    if match is None or not 0 <= level <= MAX_TILE_LEVEL:
        raise ApiProblem(404, NO_TILE, f"not a tile path: {level}/{path}")
    index = int(match.group(1).replace("x", "").replace("/", "") + match.group(2))
    width = TILE_WIDTH if match.group(3) is None else int(match.group(3))
    if not 1 <= width <= TILE_WIDTH:
        raise ApiProblem(404, NO_TILE, f"a partial tile is 1 to {TILE_WIDTH - 1} wide")
    tile = Tile(level, index, width)
    if tile.path != f"tile/{level}/{path}":
        raise ApiProblem(404, NO_TILE, f"not the canonical tile path: {level}/{path}")
    return tile


def _tile_response(tile: Tile, data: bytes) -> Response:
    cache = IMMUTABLE if tile.width == TILE_WIDTH else PARTIAL
    return Response(data, media_type=TILE_TYPE, headers={"Cache-Control": cache})


def _covered(tree: LogTree, tile: Tile) -> None:
    """404 unless the tree holds every leaf under the tile."""
    span = TILE_WIDTH**tile.level
    if (tile.index * TILE_WIDTH + tile.width) * span > _tree_size(tree):
        raise ApiProblem(404, NO_TILE, f"the tree has no tile {tile.path} yet")


@router.get(
    "/tile/entries/{path:path}",
    operation_id="log_entries_tile",
    summary="An entry bundle of the tlog-tiles layout",
    response_class=Response,
    responses=_TILE_RESPONSES,
)
def entries_tile(ctx: Ctx, path: Annotated[str, Path(description="`N[.p/W]`")]) -> Response:
    stores = _stores(ctx)
    tile = _tile(0, path)
    _covered(stores.tree, tile)
    try:
        data = entry_bundle(tile_entries(stores.log, stores.tree, tile))
    except TileError as error:
        raise ApiProblem(404, NO_TILE, str(error)) from error
    return _tile_response(tile, data)


@router.get(
    "/tile/{level}/{path:path}",
    operation_id="log_hash_tile",
    summary="A hash tile of the tlog-tiles layout",
    response_class=Response,
    responses=_TILE_RESPONSES,
)
def hash_tile(
    ctx: Ctx,
    level: Annotated[int, Path(ge=0, le=MAX_TILE_LEVEL)],
    path: Annotated[str, Path(description="`N[.p/W]`, N in groups of three digits")],
) -> Response:
    tree = _stores(ctx).tree
    tile = _tile(level, path)
    _covered(tree, tile)
    try:
        data = tile_data(tree, tile)
    except TileError as error:
        raise ApiProblem(404, NO_TILE, str(error)) from error
    return _tile_response(tile, data)


class InclusionProof(BaseModel):
    leaf_index: int
    tree_size: int
    position: int = Field(description="The event's position in the store's log.")
    entry: str = Field(description="The log entry (65 bytes), base64.")
    leaf_hash: str = Field(description="SHA-256(0x00 ‖ entry), base64.")
    hashes: list[str] = Field(description="The RFC 9162 inclusion proof, base64, leaf first.")


class ConsistencyProof(BaseModel):
    old_size: int
    new_size: int
    hashes: list[str] = Field(description="The RFC 9162 consistency proof, base64.")


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _size(tree: LogTree, checkpoints: CheckpointStore, size: int | None) -> int:
    if size is None:
        return _latest(checkpoints)[0]
    if size > _tree_size(tree):
        raise ApiProblem(404, TREE_TOO_SMALL, f"the tree has fewer than {size:,} entries")
    return size


class InclusionQuery(BaseModel):
    """The leaf whose inclusion is proved, and in which tree (read in one validation)."""

    index: int | None = Field(None, ge=0, le=MAX_SIZE, description="The leaf index.")
    stream: UUID | None = Field(None, description="Or the event's stream id…")
    version: int | None = Field(None, ge=1, le=MAX_VERSION, description="…and its version.")
    size: int | None = Field(
        None, ge=1, le=MAX_SIZE, description="Tree size (default: the latest checkpoint's)."
    )


@router.get(
    "/proof/inclusion",
    operation_id="log_inclusion_proof",
    summary="Proof that an entry is in the tree of a given size",
    response_model=InclusionProof,
    responses=problem_responses(404, 422, 503),
)
def inclusion(ctx: Ctx, query: Annotated[InclusionQuery, Query()]) -> InclusionProof:
    index, stream, version, size = query.index, query.stream, query.version, query.size
    stores = _stores(ctx)
    log, tree = stores.log, stores.tree
    if (index is None) == (stream is None) or (stream is None) != (version is None):
        raise ApiProblem(422, BAD_PROOF_REQUEST, "give either index, or stream and version")
    if stream is not None and version is not None:
        position = log.position_of(stream, version)
        found = None if position is None else tree.leaf_index_of(position)
        if found is None:
            raise ApiProblem(404, NOT_IN_LOG, f"no logged event {stream} version {version}")
        index = found
    assert index is not None
    tree_size = _size(tree, stores.checkpoints, size)
    if index >= tree_size:
        raise ApiProblem(404, NOT_IN_LOG, f"leaf {index} is not in the tree of {tree_size:,}")
    positions = tree.leaf_positions(index, index + 1)
    rows = log.read_rows(positions[0] - 1, 1) if positions else []
    if not rows or rows[0].id != positions[0]:
        raise ApiProblem(404, NOT_IN_LOG, f"the event of leaf {index} is not stored")
    row = rows[0]
    entry = LogEntry.of_stored(row.id, row.originator_id, row.originator_version, row.state)
    encoded = entry.encode()
    hashes = inclusion_proof(stores.hashes, index, tree_size)
    return InclusionProof(
        leaf_index=index,
        tree_size=tree_size,
        position=row.id,
        entry=_b64(encoded),
        leaf_hash=_b64(leaf_hash(encoded)),
        hashes=[_b64(digest) for digest in hashes],
    )


@router.get(
    "/proof/consistency",
    operation_id="log_consistency_proof",
    summary="Proof that the tree of one size extends the tree of a smaller size",
    response_model=ConsistencyProof,
    responses=problem_responses(404, 422, 503),
)
def consistency(
    ctx: Ctx,
    old: Annotated[int, Query(ge=0, le=MAX_SIZE, description="The older tree size.")],
    new: Annotated[
        int | None,
        Query(ge=0, le=MAX_SIZE, description="The newer size (default: the latest checkpoint's)."),
    ] = None,
) -> ConsistencyProof:
    stores = _stores(ctx)
    new_size = _size(stores.tree, stores.checkpoints, new)
    try:
        hashes = consistency_proof(stores.hashes, old, new_size)
    except ProofError as error:
        raise ApiProblem(422, BAD_PROOF_REQUEST, str(error)) from error
    return ConsistencyProof(
        old_size=old, new_size=new_size, hashes=[_b64(digest) for digest in hashes]
    )


async def _body(request: Request) -> bytes:
    return await request.body()


class CosignaturesStored(BaseModel):
    tree_size: int
    witnesses: list[str] = Field(description="`<name>+<key ID>` of each cosignature kept.")


@router.post(
    "/cosignature",
    operation_id="log_cosign",
    summary="A configured witness submits its cosignature of a checkpoint",
    response_model=CosignaturesStored,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {NOTE_TYPE: {"schema": {"type": "string"}}},
            "description": "The checkpoint as served, with the witness's signature line.",
        }
    },
    responses=problem_responses(400, 403, 409, 413, 415, 422, 503),
)
def cosign(ctx: Ctx, body: Annotated[bytes, Depends(_body)]) -> CosignaturesStored:
    checkpoints = _stores(ctx).checkpoints
    witnesses = []
    for key in ctx.settings.tlog.witness_keys:
        try:
            witnesses.append(NoteVerifier.from_verifier_key(key))
        except NoteError:
            continue  # a bad configured key accepts nothing
    try:
        opened = open_note(body, witnesses)
        checkpoint = Checkpoint.parse(opened.text)
    except NoteError as error:
        if "no known key" in str(error):
            raise ApiProblem(
                403, UNKNOWN_WITNESS, "no witness this ledger accepts signed the note"
            ) from error
        raise ApiProblem(400, BAD_NOTE, str(error)) from error
    except CheckpointError as error:
        raise ApiProblem(400, BAD_NOTE, str(error)) from error
    stored = checkpoints.checkpoint_of_size(checkpoint.size)
    if stored is None or stored[2][: stored[2].rfind("\n\n") + 1] != opened.text:
        raise ApiProblem(
            409, UNKNOWN_CHECKPOINT, f"the log issued no such checkpoint of {checkpoint.size:,}"
        )
    names = []
    for signature in opened.signatures:
        witness = f"{signature.name}+{signature.key_id:08x}"
        line = f"— {signature.name} {signature.base64}\n"
        checkpoints.store_cosignature(checkpoint.size, witness, line)
        names.append(witness)
    return CosignaturesStored(tree_size=checkpoint.size, witnesses=names)
