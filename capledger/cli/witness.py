"""``capledger witness``: an inspector's witness of a ledger's verifiable log.

- ``witness keygen --name NAME --out FILE``: the witness's own key pair (cosignature/v1);
- ``witness cosign --url URL --log-key VKEY --key FILE --state FILE``: fetches the ledger's
  latest checkpoint (``GET /log/checkpoint``), checks it extends the one this witness last
  cosigned (kept in the state file; ``GET /log/proof/consistency``), prints the checkpoint
  with its cosignature and submits it (``POST /log/cosignature``, unless ``--no-submit``).
  It refuses (exit 6, state unchanged) a fork, a rewrite, a shrunk tree or a checkpoint the log
  did not sign. The first run trusts the checkpoint it sees (there is nothing to compare).
"""

from __future__ import annotations

import argparse
import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from capledger.application.tlog.checkpoint import (
    Checkpoint,
    CheckpointError,
    open_checkpoint,
)
from capledger.application.tlog.note import COSIGNATURE_V1, NoteError, NoteSigner, NoteVerifier
from capledger.application.tlog.witness import Witness, WitnessRefusal

from .context import CliContext
from .errors import EXIT_CHECKPOINT_REFUSED, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError
from .subcommands import Subcommands
from .tlog import add_keygen_arguments, run_keygen

TIMEOUT_S = 30.0


def register(subparsers: Subcommands) -> None:
    parser = subparsers.add_parser(
        "witness",
        help="an inspector's witness: cosign a ledger's checkpoints that extend the last one",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    keygen = actions.add_parser("keygen", help="make the witness's key pair")
    add_keygen_arguments(keygen, "the witness's name, e.g. witness.inspectorate.example.vn")
    keygen.set_defaults(handler=run_keygen, key_kind=COSIGNATURE_V1)
    cosign = actions.add_parser("cosign", help="check and cosign the ledger's latest checkpoint")
    cosign.add_argument("--url", required=True, help="the ledger's API, e.g. https://host:8000")
    cosign.add_argument("--log-key", required=True, help="the log's verifier key")
    cosign.add_argument("--key", required=True, type=Path, help="the witness's signer key file")
    cosign.add_argument(
        "--state", required=True, type=Path, help="file of the last checkpoint cosigned"
    )
    cosign.add_argument(
        "--no-submit", action="store_true", help="print the cosigned checkpoint only"
    )
    cosign.set_defaults(handler=run_cosign)


def run_cosign(args: argparse.Namespace, context: CliContext) -> int:
    try:
        log_key = NoteVerifier.from_verifier_key(args.log_key)
        signer = NoteSigner.from_signer_key(_read(args.key))
    except NoteError as error:
        raise CliError("bad-key", str(error), EXIT_USAGE) from error
    last = _load_state(args.state, log_key)
    base = args.url.rstrip("/")
    note = _get(f"{base}/log/checkpoint").decode("utf-8")
    try:
        witness = Witness(signer, log_key, last)
        latest = open_checkpoint(note, log_key)
        proof: list[bytes] = []
        if last is not None and last.size < latest.size and last.size > 0:
            query = urllib.parse.urlencode({"old": last.size, "new": latest.size})
            answer = json.loads(_get(f"{base}/log/proof/consistency?{query}"))
            proof = [base64.b64decode(digest) for digest in answer["hashes"]]
        line = witness.cosign(note, proof, int(time.time()))
    except (WitnessRefusal, CheckpointError, ValueError) as error:
        raise CliError("witness-refused", str(error), EXIT_CHECKPOINT_REFUSED) from error
    log_signed = note[: note.rfind("\n\n") + 1] + "\n" + _log_signature(note, log_key)
    cosigned = log_signed + line
    if not args.no_submit:
        _post(f"{base}/log/cosignature", cosigned.encode())
    args.state.write_text(log_signed, encoding="utf-8")
    context.stdout.write(cosigned)
    context.notice(f"cosigned the checkpoint of {latest.size:,} entries")
    return EXIT_OK


def _log_signature(note: str, log_key: NoteVerifier) -> str:
    """The log's own signature line of a served note (other witnesses' lines left out)."""
    prefix = f"— {log_key.name} "
    for line in note[note.rfind("\n\n") + 2 :].splitlines():
        if line.startswith(prefix):
            raw = base64.b64decode(line[len(prefix) :])
            if int.from_bytes(raw[:4], "big") == log_key.key_id:
                return line + "\n"
    raise CheckpointError("the log's signature line is missing")


def _load_state(path: Path, log_key: NoteVerifier) -> Checkpoint | None:
    if not path.exists():
        return None
    try:
        return open_checkpoint(_read(path), log_key)
    except CheckpointError as error:
        raise CliError(
            "bad-state", f"{path} is not a checkpoint of this log: {error}", EXIT_USAGE
        ) from error


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise CliError("unreadable", f"cannot read {path}: {error}", EXIT_USAGE) from error


def _get(url: str) -> bytes:
    return _request(urllib.request.Request(url))


def _post(url: str, body: bytes) -> bytes:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "text/plain; charset=utf-8"}
    )
    return _request(request)


def _request(request: urllib.request.Request) -> bytes:
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as error:
        detail = error.read().decode("utf-8", "replace")
        raise CliError(
            "ledger-refused", f"{request.full_url}: HTTP {error.code}: {detail}", EXIT_FAILURE
        ) from error
    except (urllib.error.URLError, OSError) as error:
        raise CliError("unreachable", f"{request.full_url}: {error}", EXIT_FAILURE) from error
