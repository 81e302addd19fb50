"""The catalog of problem codes: every ``code`` a problem+json answer can carry, with its HTTP
status and what it means to a client.

One catalog serves three readers: the ``Problem`` schema of ``/openapi.json`` (``code`` is an
enum of these, each response lists the codes of its status), the table in docs/api.md, and the
tests (``tests/unit/api/test_problem_codes.py``) that walk every domain, application and query
error class and every code the API raises itself, and fail, naming the code, when one is
missing here or carries another status. A new error therefore comes with its line below.

``where`` says which operations may answer a code: ``"*"`` every operation, else the groups of
:data:`GROUPS` (an operation's group is its OpenAPI tag).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: The operation groups a code may be limited to, by the OpenAPI tags of their routers.
GROUPS: Mapping[str, frozenset[str]] = {
    "commands": frozenset({"commands"}),
    "reads": frozenset({"queries", "audit", "exports", "jurisdictions"}),
    "administration": frozenset({"administration"}),
    "log": frozenset({"verifiable log"}),
}
ANY = "*"


@dataclass(frozen=True)
class ProblemCode:
    code: str
    status: int
    meaning: str
    where: tuple[str, ...] = (ANY,)

    def applies_to(self, tags: Iterable[str]) -> bool:
        if ANY in self.where:
            return True
        chosen = set(tags)
        return any(chosen & GROUPS[group] for group in self.where)


def _catalog(*codes: ProblemCode) -> dict[str, ProblemCode]:
    found: dict[str, ProblemCode] = {}
    for entry in codes:
        if entry.code in found:
            raise ValueError(f"problem code {entry.code} is listed twice")
        found[entry.code] = entry
    return found


_C = ("commands",)
_R = ("reads",)
_CR = ("commands", "reads")

CATALOG: Mapping[str, ProblemCode] = _catalog(
    # -- the HTTP edge (any operation) -----------------------------------------------------
    ProblemCode("bad-request", 400, "The request cannot be read."),
    ProblemCode(
        "malformed-json",
        400,
        "The body is not JSON at all (a JSON body with an invalid value is `validation-error`).",
    ),
    ProblemCode(
        "unauthenticated",
        401,
        "No API key, or an unknown or revoked one: send `X-API-Key` or `Authorization: Bearer`.",
    ),
    ProblemCode("forbidden", 403, "The key's role may not call this operation (see `x-roles`)."),
    ProblemCode(
        "out-of-scope",
        403,
        "A finance officer's key names a project, plan or jurisdiction outside its scope "
        "(its investors and provinces).",
        _CR,
    ),
    ProblemCode(
        "scope-filter-required",
        403,
        "A finance officer's key covering several investors or provinces must filter by one.",
        _R,
    ),
    ProblemCode("not-found", 404, "No such resource (path, project version, digest, key, file)."),
    ProblemCode("method-not-allowed", 405, "The path exists but not with this HTTP method."),
    ProblemCode("not-acceptable", 406, "No representation in the media type asked for."),
    ProblemCode(
        "request-timeout",
        408,
        "From the server: the header section or body did not arrive in time; the connection "
        "is closed.",
    ),
    ProblemCode("conflict", 409, "The request conflicts with the resource's state."),
    ProblemCode(
        "request-too-large", 413, "The body is over `CAPLEDGER_API_MAX_BODY_BYTES` (64 KiB)."
    ),
    ProblemCode("unsupported-media-type", 415, "The body's media type is not `application/json`."),
    ProblemCode("not-utf-8", 415, "A JSON body that is not UTF-8 (or starts with a BOM)."),
    ProblemCode(
        "validation-error",
        422,
        "A path, query, header or body value is missing or invalid; `errors` names each field.",
    ),
    ProblemCode(
        "request-header-too-large",
        431,
        "From the server: the header section is over `CAPLEDGER_API_MAX_HEADER_BYTES`; the "
        "connection is closed.",
    ),
    ProblemCode(
        "rate-limited",
        429,
        "The key's (or, without a valid key, the address's) rate limit is spent: retry after "
        "`Retry-After` seconds.",
    ),
    ProblemCode("internal-error", 500, "An unexpected error; it was logged with the request id."),
    ProblemCode("unavailable", 503, "The service cannot answer now; retry after `Retry-After`."),
    ProblemCode(
        "store-unavailable", 503, "The ledger's store cannot be reached; retry after `Retry-After`."
    ),
    ProblemCode(
        "ledger-verification-failed",
        503,
        "The read side met an event that fails hash-chain verification: no figure is served "
        "until the store is restored and the read models rebuilt.",
        _R,
    ),
    # -- the ledger's rules (domain errors: nothing was recorded) ---------------------------
    ProblemCode("domain-error", 422, "A rule of the ledger refused the command.", _C),
    ProblemCode("invalid-amount", 422, "An amount that is not a positive whole VND.", _C),
    ProblemCode(
        "invalid-value",
        422,
        "A value the domain refuses (a date, code, text, or a key's role and scope).",
        ("commands", "administration"),
    ),
    ProblemCode(
        "source-not-in-plan",
        422,
        "The capital source (nguồn vốn) has no envelope in the plan (kế hoạch vốn).",
        _C,
    ),
    ProblemCode(
        "envelope-below-allocated",
        422,
        "An adjustment (điều chỉnh) would set a source's envelope below what is already "
        "allocated from it.",
        _C,
    ),
    ProblemCode(
        "insufficient-unallocated-capital",
        422,
        "The plan's unallocated envelope of that source is smaller than the allocation "
        "(giao kế hoạch vốn).",
        _C,
    ),
    ProblemCode(
        "no-allocation", 404, "The project has no allocation from that plan and source.", _C
    ),
    ProblemCode(
        "not-annual-plan",
        422,
        "Capital is allocated and disbursed from annual plans (kế hoạch vốn năm) only.",
        _C,
    ),
    ProblemCode(
        "undisbursed-exceeded",
        422,
        "A transfer (điều chuyển) or cut (cắt giảm) would move more than the project's "
        "undisbursed allocation.",
        _C,
    ),
    ProblemCode(
        "over-disbursement",
        422,
        "A payment (giải ngân) would exceed the year's allocation, including capital extended "
        "into it.",
        _C,
    ),
    ProblemCode(
        "total-investment-exceeded",
        422,
        "Cumulative disbursement would exceed the project's total investment (tổng mức đầu tư).",
        _C,
    ),
    ProblemCode(
        "dated-out-of-range",
        422,
        "The movement is dated before what it depends on existed (registration, plan approval "
        "or fiscal year, the entry corrected).",
        _C,
    ),
    ProblemCode(
        "deadline-passed",
        422,
        "The plan's disbursement deadline (31 January of the next year, or its extension) has "
        "passed.",
        _C,
    ),
    ProblemCode(
        "extension-not-allowed",
        422,
        "The extension (kéo dài thời gian giải ngân) is beyond what the law allows.",
        _C,
    ),
    ProblemCode("lapse-not-due", 422, "Capital cannot lapse before its deadline has passed.", _C),
    ProblemCode(
        "advance-cap-exceeded",
        422,
        "The advance (tạm ứng) would exceed the cap (a share of the contract value).",
        _C,
    ),
    ProblemCode(
        "advance-over-recovered",
        422,
        "The advance recovered (thu hồi tạm ứng) would exceed the advance outstanding.",
        _C,
    ),
    ProblemCode(
        "advance-not-fully-recovered",
        422,
        "Payments reached the share of the contract value by which the advance must be fully "
        "recovered, and it is not.",
        _C,
    ),
    ProblemCode("unknown-contract", 404, "The project has no contract of that number.", _C),
    ProblemCode(
        "duplicate-contract", 422, "The project already has a contract of that number.", _C
    ),
    ProblemCode(
        "entry-not-reversible",
        422,
        "No such entry to correct, already corrected, a correction itself, or a later change "
        "of the same kind stands in the way.",
        _C,
    ),
    ProblemCode(
        "decision-required",
        422,
        "The law takes this correction by a decision: give decision_no, decision_date and "
        "decision_issuer.",
        _C,
    ),
    ProblemCode(
        "project-closed",
        422,
        "The project is terminated or settled (quyết toán): no capital moves any more.",
        _C,
    ),
    ProblemCode(
        "invalid-transfer",
        422,
        "A transfer (điều chuyển) between the same project, or across plans or sources.",
        _C,
    ),
    ProblemCode("invalid-status-change", 422, "The project's status cannot change that way.", _C),
    ProblemCode("no-rule-in-force", 422, "No legal rule is in force on the effective date.", _C),
    ProblemCode("api-key-revoked", 422, "The API key is already revoked.", ("administration",)),
    # -- the application (commands and their stores) ----------------------------------------
    ProblemCode("application-error", 422, "The application refused the command.", _C),
    ProblemCode("unknown-project", 404, "No project of that code is recorded.", _CR),
    ProblemCode("unknown-plan", 404, "No plan (kế hoạch vốn) of that code is recorded.", _CR),
    ProblemCode(
        "no-annual-plan",
        404,
        "No annual plan (kế hoạch vốn năm) of that jurisdiction and fiscal year is recorded.",
        _R,
    ),
    ProblemCode(
        "not-yet-known",
        404,
        "It was in force at `as_of` (or `effective_on`) but recorded after `known`: `known_from` "
        "names the first day the ledger knew it; ask again with `known` on or after it.",
        _R,
    ),
    ProblemCode(
        "unknown-jurisdiction",
        404,
        "No jurisdiction of that code is in the list (`GET /jurisdictions`).",
        _R,
    ),
    ProblemCode("duplicate-project", 409, "A project of that code is already registered.", _C),
    ProblemCode("duplicate-plan", 409, "A plan of that code is already approved.", _C),
    ProblemCode(
        "idempotency-conflict",
        422,
        "The Idempotency-Key was already used with a different command: choose a new key.",
        _C,
    ),
    ProblemCode(
        "version-conflict",
        409,
        "Other writers kept changing the same project or plan: retry after `Retry-After`.",
        _C,
    ),
    ProblemCode("invalid-command", 422, "Not a command of the ledger.", _C),
    ProblemCode("unknown-api-key", 422, "No API key of that id is recorded.", ("administration",)),
    ProblemCode(
        "duplicate-api-key", 422, "An API key of that id is already recorded.", ("administration",)
    ),
    # -- queries -----------------------------------------------------------------------------
    ProblemCode(
        "plan-outside-scope",
        422,
        "A rate's denominator plan belongs to another jurisdiction or does not cover the "
        "fiscal year asked for.",
        _R,
    ),
    # -- administration and digests -----------------------------------------------------------
    ProblemCode(
        "duplicate-key-name", 409, "An active API key already has that name.", ("administration",)
    ),
    ProblemCode(
        "invalid-key", 422, "The key's role and scope do not fit together.", ("administration",)
    ),
    ProblemCode(
        "last-administrator",
        409,
        "Revoking this key would leave no active administrator key.",
        ("administration",),
    ),
    ProblemCode(
        "broken-chain",
        409,
        "A hash chain is broken: no heads digest is published.",
        _R,
    ),
    # -- the verifiable log ---------------------------------------------------------------------
    ProblemCode("no-checkpoint", 404, "The log has issued no checkpoint yet.", ("log",)),
    ProblemCode(
        "no-tile", 404, "Not a canonical tile path, or a tile the tree does not hold yet.", ("log",)
    ),
    ProblemCode(
        "not-in-log", 404, "An entry beyond the tree, or an event not in the tree yet.", ("log",)
    ),
    ProblemCode("tree-too-small", 404, "A tree size beyond the stored tree.", ("log",)),
    ProblemCode(
        "bad-proof-request",
        422,
        "Neither or both of index and stream+version, or a consistency proof to a smaller tree.",
        ("log",),
    ),
    ProblemCode("bad-note", 400, "The body is not a signed checkpoint note.", ("log",)),
    ProblemCode(
        "unknown-witness",
        403,
        "No witness of `CAPLEDGER_TLOG_WITNESSES` signed the note.",
        ("log",),
    ),
    ProblemCode("unknown-checkpoint", 409, "The log did not issue that checkpoint.", ("log",)),
)


def codes_for(status: int, tags: Iterable[str]) -> list[ProblemCode]:
    """The codes an operation of these tags may answer with this status."""
    chosen = tuple(tags)
    return [
        entry for entry in CATALOG.values() if entry.status == status and entry.applies_to(chosen)
    ]


def markdown_table() -> str:
    """The catalog as the Markdown table docs/api.md carries (a test keeps them equal)."""
    lines = ["| code | status | meaning |", "|---|---|---|"]
    for entry in sorted(CATALOG.values(), key=lambda item: (item.status, item.code)):
        lines.append(f"| `{entry.code}` | {entry.status} | {entry.meaning} |")
    return "\n".join(lines)
