"""The API's vocabulary: what each field and parameter name means, with its unit and the
Vietnamese term where the domain has one, for ``/openapi.json`` (see :mod:`capledger.api.openapi`).

The API speaks one language: ``plan_code``, ``effective_on`` or ``advances_outstanding`` mean
the same wherever they appear, so their meaning is written once, here, by name
(:data:`TERMS`). Where a name means something narrower in one schema or operation (a payment's
``amount`` is the gross value of the work), :data:`QUALIFIED` says so under
``"<Schema>.<field>"`` or ``"<operation_id>.<parameter>"``. A description a model or route
writes itself wins over both; the generic ones of the edge types (:data:`GENERIC`: "Whole VND
…") are kept after the meaning. A test fails on a field or parameter the document leaves
undescribed, naming it, so a new name comes with its line here or its own ``description``.

Units: amounts are whole Vietnamese đồng (VND; 1 tỷ đồng = 10^9 VND), in responses as strings of
digits; dates are calendar dates ``YYYY-MM-DD``; times ISO 8601 with an offset; versions count
events of one stream from 1; positions count events of the whole ledger from 1.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Descriptions of the edge types (capledger.api.types) that say the unit but not the meaning.
GENERIC = frozenset(
    {
        "Whole VND: a JSON integer or a string of digits (never a float).",
        "Whole VND as a string (sums exceed 2^53).",
    }
)

_DECISION = "(quyết định) behind the movement"

TERMS: Mapping[str, str] = {
    # -- codes and names -------------------------------------------------------------------
    "code": "The new resource's code, unique in the ledger; it appears in URLs.",
    "project_code": "The project's code (mã dự án), as registered.",
    "plan_code": "The capital plan's code (mã kế hoạch vốn).",
    "plan_codes": "The capital plans' codes.",
    "name": "The name, as recorded.",
    "title": "The plan's title, as in its decision.",
    "investor_code": "The investor's code (chủ đầu tư): the department, district or project "
    "management board accountable for disbursing the project's capital.",
    "investor_name": "The investor's name (chủ đầu tư).",
    "program": "The program (chương trình) the project belongs to; an empty string for none.",
    "sector": "The sector (lĩnh vực): transport, flood control, education, health, …",
    "province": "The province (tỉnh/thành phố) code where the project is.",
    "jurisdiction": "The jurisdiction whose plans are meant: a province or central "
    "ministry/agency code (e.g. `HP`, `HN`).",
    "source": "The capital source (nguồn vốn): `central_budget` (ngân sách trung ương), "
    "`local_budget` (ngân sách địa phương), `land_use_revenue` (tiền sử dụng đất), `oda`, "
    "`other`.",
    "kind": "The plan's kind: `medium_term` (kế hoạch đầu tư công trung hạn, 5 years) or "
    "`annual` (kế hoạch vốn năm).",
    "plan_kind": "The kind of plan: `medium_term` (trung hạn) or `annual` (kế hoạch vốn năm); "
    "as a filter, only capital of plans of this kind.",
    "authority": "The authority that assigned the plan: `national_assembly`, `prime_minister` "
    "(Thủ tướng), `provincial_council` (HĐND), `provincial_committee` (UBND), `ministry`.",
    "status": "The project's status: `on_track`, `slow` (chậm tiến độ), "
    "`under_violation_handling`, `suspended`, `terminated`, `completed`, `settled` (quyết toán).",
    "review_class": "The class a review of slow projects sorted the project into (e.g. "
    "terminate, allow completion of procedures), or null.",
    "contract_no": "The works contract's number (số hợp đồng).",
    "contractor": "The contractor (nhà thầu) of the contract.",
    "treasury_ref": "The State Treasury's (Kho bạc Nhà nước) reference of the payment order.",
    "reason": "Why, in words, as recorded.",
    "key": "The group's key: a project, plan, investor, program, sector, province or "
    "jurisdiction code, or a source.",
    "label": "The group's name for people (a project's or investor's name, a plan's title).",
    # -- decisions and dates ---------------------------------------------------------------
    "decision_no": f"Number of the decision {_DECISION}, e.g. `80/NQ-HĐND`.",
    "decision_date": f"Date the decision {_DECISION} was issued (ngày ban hành), YYYY-MM-DD.",
    "decision_issuer": f"Who issued the decision {_DECISION}, e.g. `UBND Hà Nội`.",
    "decision_issued_on": "Date the plan's decision was issued (ngày ban hành), YYYY-MM-DD.",
    "decision": "The decision (quyết định) behind the event: number, issue date, issuer; null "
    "for movements taken without one (payments, advances).",
    "number": "The decision's number, e.g. `80/NQ-HĐND`.",
    "issued_on": "The date the decision was issued, YYYY-MM-DD.",
    "issuer": "The authority that issued the decision.",
    "effective_on": "Effective date (ngày hiệu lực) of the movement, YYYY-MM-DD: the day it "
    "counts from, which may be earlier than the day it was recorded.",
    "recorded_on": "The day it was recorded in the ledger (Vietnam time), YYYY-MM-DD.",
    "recorded_at": "When the ledger recorded it (ISO 8601 date-time with offset).",
    "registered_on": "Effective date of the project's registration, YYYY-MM-DD.",
    "approved_on": "Effective date (ngày hiệu lực) of the plan's current version, YYYY-MM-DD "
    "(not the decision's issue date: see the plan's versions).",
    "created_at": "When the key was created (ISO 8601 date-time).",
    "revoked_at": "When the key was revoked (ISO 8601 date-time); null while it is active.",
    "published_at": "When the digest was published (ISO 8601 date-time).",
    "until": "The last day (YYYY-MM-DD) the extended capital may be disbursed; at most 31 "
    "December of the year after the plan's year.",
    "as_of": "Count movements effective on or before this date (YYYY-MM-DD); now when absent.",
    "known": "…and recorded by the end of this day (Vietnam time), YYYY-MM-DD: what the ledger "
    "knew then. Defaults to `as_of`; give a later day (e.g. today) to see back-filled history.",
    "fiscal_year": "The fiscal year (năm ngân sách, the calendar year), e.g. 2021.",
    "year": "The calendar year, e.g. 2021.",
    "start_year": "First year the plan covers.",
    "end_year": "Last year the plan covers (the start year for an annual plan).",
    "month": "The month, `YYYY-MM`.",
    "added_after": "Leave out envelope added by plan adjustments effective after this date "
    "(YYYY-MM-DD), e.g. capital added late in the year; null: nothing left out.",
    "exclude_extended": "Whether capital extended into the next year (kéo dài) is left out of "
    "the denominator.",
    # -- amounts -----------------------------------------------------------------------------
    "amount": "The amount the movement moves, whole VND.",
    "total_investment": "The project's approved total investment (tổng mức đầu tư), whole VND.",
    "settled_value": "The value settled (quyết toán), whole VND; null until settled.",
    "value": "The contract's value (giá trị hợp đồng), whole VND.",
    "advance_recovered": "Of the payment's gross amount, the part that recovers the contract's "
    "advance (thu hồi tạm ứng), whole VND; 0 when none.",
    "envelopes": "The plan's envelope per capital source (nguồn vốn), whole VND: source → amount.",
    "envelope": "The plan's envelope (of the source, or in total), whole VND.",
    "allocated": "Capital allocated to projects (giao kế hoạch vốn), whole VND.",
    "unallocated": "The plan's envelope not yet allocated, whole VND.",
    "transferred_in": "Capital transferred in from other projects (điều chuyển đến), whole VND.",
    "transferred_out": "Capital transferred out to other projects (điều chuyển đi), whole VND.",
    "cut": "Allocation cut (cắt giảm) and returned to the plan, whole VND.",
    "capital": "Capital of the project for the year: allocated + transferred in − transferred "
    "out − cut, whole VND.",
    "disbursed": "Net disbursement (giải ngân): cash paid by the State Treasury, advances (tạm "
    "ứng) plus payments for work less advances recovered, whole VND.",
    "advances_outstanding": "Advances paid (tạm ứng) not yet recovered by later payments, whole "
    "VND.",
    "lapsed": "Capital lapsed (hủy dự toán) after its deadline, whole VND.",
    "extended": "Capital whose disbursement period was extended (kéo dài) into the next year, "
    "whole VND.",
    "undisbursed": "capital − disbursed − lapsed, whole VND.",
    "advanced": "Advances paid on the contract (tạm ứng), whole VND.",
    "advance_outstanding": "Advances on the contract not yet recovered, whole VND.",
    "completed_paid": "Gross value of completed work paid on the contract (thanh toán khối lượng "
    "hoàn thành), whole VND.",
    "numerator": "The rate's numerator, whole VND.",
    "denominator": "The rate's denominator, whole VND.",
    "excluded_extended": "Extended capital left out of the denominator, whole VND.",
    "excluded_added_late": "Envelope added after `added_after`, left out of the denominator, "
    "whole VND.",
    "shortfall": "What it would take to reach the reference rate, whole VND.",
    "before_year": "Disbursed with an effective date before the fiscal year, whole VND.",
    "after_year_end": "Disbursed after 31 December (until the 31 January deadline or an "
    "extension), whole VND.",
    "in_year": "Disbursed within the fiscal year, whole VND.",
    "december": "Disbursed in December, whole VND.",
    "quarters": "Disbursed in each quarter of the fiscal year (Q1…Q4), whole VND.",
    "cumulative": "Disbursed from the start of the year to the end of the month, whole VND.",
    "change": "after − before, per balance figure (whole VND).",
    # -- rates -------------------------------------------------------------------------------
    "rate": "The disbursement rate (tỷ lệ giải ngân): disbursed ÷ denominator.",
    "rates": "One rate per denominator plan, in the order asked.",
    "disbursement_rate": "The group's disbursement rate: disbursed ÷ capital.",
    "cumulative_rate": "Cumulative disbursement ÷ the denominator; null without a denominator.",
    "last_quarter_share": "Share of the year's disbursement made in the last quarter (year-end "
    "bunching).",
    "december_share": "Share of the year's disbursement made in December.",
    "reference_rate": "The rate entries are compared with, a decimal fraction (0.455 = 45.5%).",
    "reference_is_scope_average": "Whether the reference is the scope's own average (no "
    "threshold given).",
    "scope_rate": "The whole scope's disbursement rate.",
    "places": "Decimal places of the percentages (0–6).",
    "basis": "Date each month's disbursement by its effective date (`effective`) or by the day "
    "the ledger recorded it (`recorded`).",
    "plan": "A denominator plan, `CODE` or `CODE@VERSION` (a given plan version).",
    "plan_version": "The plan's version: 1 for its approval, one more for each adjustment "
    "(điều chỉnh).",
    "implements": "The plan this one implements (e.g. the PM-assigned plan a provincial plan "
    "carries out), or null.",
    # -- grouping, filters and pages ---------------------------------------------------------
    "by": "The dimension the balances are grouped by.",
    "sort": "The figure (or `key`, `label`, `rate`) the groups are sorted by.",
    "order": "Sort order: `asc` or `desc`.",
    "level": "List projects (`project`) or investors (`investor`).",
    "limit": "At most this many items in the page.",
    "offset": "Items skipped before the page.",
    "total": "Items in all pages.",
    "next_offset": "Pass as `offset` for the next page; null on the last page.",
    "page": "Where this page is in the whole list.",
    "items": "The page's items.",
    "entries": "The listed projects or investors, furthest below the reference first.",
    "points": "One point per month of the fiscal year.",
    "lines": "One line per plan and capital source the project has capital from.",
    "totals": "The project's balances over all its lines.",
    "projects": "How many projects the entry covers.",
    "min_days": "Only entries recorded at least this many days after their effective date.",
    "lateness_days": "Days between the effective date and the day it was recorded (Vietnam "
    "time); 0 or null when on time.",
    "correction": "Whether the entry corrects (reverses) an earlier one.",
    "position": "Global position of the event in the ledger (1, 2, …).",
    "adjustments": "How many adjustments (điều chỉnh) of the plan took effect in the year.",
    # -- histories, states, chains -----------------------------------------------------------
    "version": "Stream version: the count of events of this project or key up to this one.",
    "class_version": "The version of the event's schema (the `vN` of its published JSON Schema).",
    "event": "The event's type (its name within its aggregate).",
    "command": "The command that recorded it (e.g. `PayCompletedWork`).",
    "command_id": "The command's id: the Idempotency-Key it was sent with.",
    "correlation_id": "The id shared by the events one command recorded, or null.",
    "principal": "Who did it: `<role>:<key name>` of the API key, or `operator:…` for the CLI.",
    "hash": "SHA-256 (hex) of the event chained to the one before (hash chain).",
    "prev": "The hash of the stream's previous event (empty for its first).",
    "head_version": "The stream's last version.",
    "head_hash": "The hash of the stream's last event; null for an empty stream.",
    "ok": "Whether the check passed.",
    "checked": "Events whose hashes were recomputed.",
    "streams": "Streams (projects, plans, keys, receipts) checked.",
    "broken": "The first broken link, or null when every chain holds.",
    "stream": "The stream (aggregate id) of the broken link.",
    "heads_digest": "SHA-256 (hex) over every stream's head hash.",
    "digest_id": "The digest's number (1, 2, …).",
    "exists": "Whether the project was registered at that point.",
    "point": "The point in the project's life the state is taken at.",
    "mode": "How the point was chosen: `version`, `recorded_at`, `effective_on` or `now`.",
    "attributes": "Attributes that changed: name → [before, after].",
    "versions_between": "Events recorded between the two points; null for effective dates.",
    "before": "The earlier point's figures.",
    "after": "The later point's figures.",
    # -- commands ----------------------------------------------------------------------------
    "replayed": "True when this Idempotency-Key was seen before: nothing new was recorded and "
    "this is the first outcome again (status 200).",
    "entry_version": "Stream version of the entry corrected (reversed).",
    "corrects": "The kind of entry corrected (its event's name, e.g. `CapitalAllocated`).",
    "counterpart": "A corrected transfer's other project, or null.",
    "counterpart_version": "The stream version of the counterpart's side of the corrected "
    "transfer, or null.",
    "extended_until": "After the correction of an extension: the end of the extended period "
    "that is left (YYYY-MM-DD), or null when none is left.",
    "auto_extended_until": "Capital added late in the year is extended by law (Law 58/2024/QH15): "
    "the day until which it may be disbursed (YYYY-MM-DD), or null.",
    "from_extension": "Whether the payment draws on capital extended (kéo dài) from the year "
    "before.",
    "from_project": "The project capital is transferred from (điều chuyển đi).",
    "to_project": "The project capital is transferred to (điều chuyển đến).",
    # -- keys --------------------------------------------------------------------------------
    "key_id": "The API key's id (8 hex digits), never its token.",
    "role": "The key's role: `inspector`, `finance_officer` or `administrator`.",
    "investors": "A finance officer's scope: the investor codes (chủ đầu tư) it acts for.",
    "provinces": "A finance officer's scope: the province codes it acts for.",
    "token": "The key's secret (`clk_…`): shown once, send it as `X-API-Key` or as a bearer token.",
    # -- problems ----------------------------------------------------------------------------
    "type": "URI of the problem type: `<base><code>`.",
    "detail": "What went wrong, for people (do not parse it).",
    "message": "What is wrong with the value.",
    "request_id": "The request's id (also in the `X-Request-ID` header and the server's logs).",
    # -- operations --------------------------------------------------------------------------
    "ready": "Whether every check passed.",
    "checks": "Each readiness check and its outcome.",
    "ledger_position": "The ledger's last position.",
    "projection_position": "The read model's position (how far its projections have folded).",
    "projection_lag": "Events recorded but not yet in the read model.",
    # -- exports and the verifiable log --------------------------------------------------------
    "activities": "IATI activities (one per project) with their transactions.",
    "generated_datetime": "When the export was generated (ISO 8601 date-time).",
    "format": "The answer's format: `json` or `xml` (IATI 2.03).",
    "tree_size": "Entries in the log's Merkle tree the proof or cosignature is for.",
    "leaf_index": "The entry's index in the log (from 0).",
    "old_size": "The smaller tree's size.",
    "new_size": "The larger tree's size.",
    "from_version": "The earlier point: this stream version.",
    "to_version": "The later point: this stream version.",
    "from_recorded_at": "The earlier point: what the ledger held at this moment (ISO 8601).",
    "to_recorded_at": "The later point: what the ledger held at this moment (ISO 8601).",
    "from_effective_on": "The earlier point: movements effective by this date (YYYY-MM-DD).",
    "to_effective_on": "The later point: movements effective by this date (YYYY-MM-DD).",
}

#: Meanings narrower than the name's, by ``<Schema>.<field>`` or ``<operation_id>.<parameter>``.
QUALIFIED: Mapping[str, str] = {
    "ApprovePlan.code": "The plan's code (mã kế hoạch vốn), unique in the ledger.",
    "RegisterProject.code": "The project's code (mã dự án), unique in the ledger; the national "
    "public-investment system's code where there is one.",
    "RegisterProject.name": "The project's name (tên dự án).",
    "ProjectOut.name": "The project's name (tên dự án).",
    "ProjectStateOut.name": "The project's name (tên dự án) at that point.",
    "KeyOut.name": "The key's name (its holder, unique among active keys).",
    "IssuedKeyOut.name": "The key's name (its holder, unique among active keys).",
    "NewKey.name": "The key's name (its holder, unique among active keys).",
    "Check.name": "The check's name.",
    "Check.detail": "What the check found.",
    "Problem.title": "The code in words, for people.",
    "Problem.status": "The HTTP status code.",
    "Health.status": "`ok` while the process serves.",
    "WatchEntryOut.status": "The project's status (null for an investor entry).",
    "WatchEntryOut.key": "The project's or investor's code.",
    "WatchEntryOut.label": "The project's or investor's name.",
    "WatchEntryOut.capital": "The entry's capital for the year (allocated + transferred in − "
    "transferred out − cut), whole VND.",
    "WatchEntryOut.disbursed": "The entry's net disbursement (giải ngân), whole VND.",
    "WatchEntryOut.rate": "disbursed ÷ capital.",
    "WatchListOut.level": "Whether entries are projects or investors.",
    "RateEntry.rate": "Disbursed ÷ this plan's denominator.",
    "RateEntry.envelope": "The plan's envelope (version chosen), whole VND.",
    "RateEntry.denominator": "envelope − excluded_extended − excluded_added_late, whole VND.",
    "SeriesOut.denominator": "The denominator plan of the cumulative rate, or null.",
    "RateOut.numerator": "What was disbursed (giải ngân), whole VND.",
    "RateOut.denominator": "What it is divided by (the plan, or the capital), whole VND.",
    "Allocate.amount": "Capital allocated to the project from the plan and source (giao kế "
    "hoạch vốn), whole VND.",
    "Transfer.amount": "Undisbursed capital moved from one project to the other (điều chuyển), "
    "whole VND.",
    "Extend.amount": "Undisbursed capital whose disbursement period is extended (kéo dài thời "
    "gian giải ngân), whole VND.",
    "PayAdvance.amount": "The advance paid to the contractor (tạm ứng) through the State "
    "Treasury, whole VND.",
    "PayCompletedWork.amount": "Gross value of the completed work paid for (giá trị khối lượng "
    "hoàn thành), whole VND. The cash the State Treasury pays out is amount − "
    "advance_recovered.",
    "ProjectCompletedWorkPaid.amount": "Gross value of the completed work paid for, whole VND; "
    "the cash paid out is amount − advance_recovered.",
    "ProjectAdvancePaid.amount": "The advance paid (tạm ứng), whole VND.",
    "ProjectEntryCorrected.amount": "The capital the correction moves back on the line, whole "
    "VND, or null when it puts back record fields.",
    "ProjectEntryCorrected.status": "The status the correction puts back, or null.",
    "ProjectEntryCorrected.total_investment": "The total investment the correction puts back, "
    "whole VND, or null.",
    "ProjectSettled.settled_value": "The value settled (giá trị quyết toán), whole VND.",
    "ProjectTotalInvestmentAdjusted.total_investment": "The project's new total investment "
    "(tổng mức đầu tư điều chỉnh), whole VND.",
    "ProjectRegistered.code": "The project's code (mã dự án).",
    "ProjectRegistered.name": "The project's name (tên dự án).",
    "ProjectStatusChanged.status": "The project's new status.",
    "ProjectInvestorChanged.investor_code": "The new investor's code (chủ đầu tư).",
    "ProjectInvestorChanged.investor_name": "The new investor's name.",
    "ApiKeyIssued.name": "The key's name (its holder, unique among active keys).",
    "FieldProblem.type": "The kind of error (e.g. `missing`, `int_parsing`, `int_too_long`).",
    "KeyOut.principal": "The principal the key's actions are recorded under: `<role>:<name>`.",
    "IssuedKeyOut.principal": "The principal the key's actions are recorded under: "
    "`<role>:<name>`.",
    "KeyHistory.items": "The key's administration events, oldest first.",
    "BalancePage.as_of": "The point the figures are as of; null: now.",
    "RatesOut.as_of": "The point the figures are as of; null: now.",
    "SeriesOut.as_of": "The point the figures are as of; null: now.",
    "BunchingOut.as_of": "The point the figures are as of; null: now.",
    "WatchListOut.as_of": "The point the figures are as of; null: now.",
    "plans.jurisdiction": "Only plans of this jurisdiction (a province or central "
    "ministry/agency code).",
    "plans.fiscal_year": "Only plans covering this year.",
    "LateEntryOut.amount": "The disbursement's net amount (giải ngân), whole VND; negative for "
    "a reversal.",
    "AdjustTotalInvestment.total_investment": "The project's new total investment (tổng mức "
    "đầu tư điều chỉnh), whole VND.",
    "Settle.settled_value": "The value settled (giá trị quyết toán), whole VND.",
    "SignContract.value": "The contract's value (giá trị hợp đồng), whole VND.",
    "PlanVersionOut.total": "The envelopes' sum at this version, whole VND.",
    "PlanVersionOut.effective_on": "Effective date (ngày hiệu lực) of this version.",
    "PlanVersionOut.decision_no": "Number of the decision that approved or adjusted the plan.",
    "PlanVersionOut.envelopes": "The envelope per capital source at this version, whole VND.",
    "PlanVersionOut.reason": "Why the plan was adjusted; null for the approval.",
    "PlanCapitalOut.envelope": "The source's envelope in the plan's current version, whole VND.",
    "PlanCapitalOut.allocated": "Allocated to projects from the source, whole VND.",
    "PlanCapitalOut.unallocated": "envelope − allocated: still to allocate, whole VND.",
    "Lapse.as_of": "The day the capital lapses (after its deadline), YYYY-MM-DD.",
    "AdjustmentCountOut.year": "The year the adjustments took effect in.",
    "AdjustmentCountOut.jurisdiction": "The plan's jurisdiction.",
    "PlanOut.jurisdiction": "The plan's jurisdiction: a province or central ministry/agency code.",
    "PlanOut.kind": "The plan's kind: `medium_term` (trung hạn) or `annual` (kế hoạch vốn năm).",
    "PlanOut.authority": "The authority that assigned the plan.",
    "ApprovePlan.jurisdiction": "The plan's jurisdiction: a province or central ministry/agency "
    "code (e.g. `HP`).",
    "ApprovePlan.envelopes": "The envelope per capital source (nguồn vốn), whole VND (0 allowed).",
    "AdjustPlan.envelopes": "The new envelope per capital source, whole VND; sources not named "
    "keep theirs.",
    "ChangeStatus.status": "The project's new status.",
    "ChangeStatus.review_class": "The class a review of slow projects sorted the project into "
    "(e.g. terminate, allow completion of procedures); optional.",
    "ChangeInvestor.investor_code": "The new investor's code (chủ đầu tư).",
    "ChangeInvestor.investor_name": "The new investor's name.",
    "LineOut.balances": "The line's balances.",
    "LineChangeOut.change": "after − before, per balance figure.",
    "ChangeOut.before": "The group's balances at `from`.",
    "ChangeOut.after": "The group's balances at `to`.",
    "ChangePage.before": "The earlier point.",
    "ChangePage.after": "The later point.",
    "DiffOut.before": "The project at the earlier point.",
    "DiffOut.after": "The project at the later point.",
    "BrokenLinkOut.version": "The stream version of the broken link.",
    "BrokenLinkOut.reason": "Why the link is broken.",
    "BrokenLinkOut.position": "The global position of the broken link, or null.",
    "KeyHistory.key_id": "The API key's id (8 hex digits).",
    "KeyEventOut.version": "Stream version of the key's administration.",
    "KeyEventOut.class_version": "The version of the event's schema.",
    "IatiPage.total": "Activities in all pages.",
    "IatiPage.version": "The IATI standard's version of the activities.",
    "IatiPage.next_offset": "Pass as `offset` for the next page; null on the last page.",
    "CosignaturesStored.tree_size": "The size of the checkpoint cosigned.",
    "InclusionProof.tree_size": "The size of the tree the proof is for.",
    "AuditPointOut.version": "The last stream version counted at that point.",
    "AuditPointOut.known": "With `effective_on`: recorded by the end of this day (Vietnam time).",
    "AuditPointOut.recorded_at": "The moment asked for.",
    "AuditPointOut.effective_on": "The effective date asked for.",
    "QueriesPointOut.disbursed": "Disbursed in the month (giải ngân), whole VND.",
    "project_state.version": "The project as of this stream version (0: before its first event).",
    "project_state.effective_on": "The project with movements effective on or before this date "
    "(YYYY-MM-DD)…",
    "project_state.known": "…and recorded by the end of this day (Vietnam time); today when "
    "absent.",
    "project_history.limit": "At most this many events in the page.",
    "digests.limit": "At most this many digests.",
    "digests.before": "Only digests numbered below this (the last page's smallest `digest_id`).",
    "log_hash_tile.level": "The tile's level in the tree (0: the hashes of entries).",
    "plans_adjustments.year": "Only adjustments effective in this year.",
    "adjustment_counts.year": "Only adjustments effective in this year.",
    "adjustment_counts.jurisdiction": "Only plans of this jurisdiction (a finance officer must "
    "give one of its provinces).",
    "plans.kind": "Only plans of this kind.",
}

#: Descriptions of component schemas that carry none of their own.
SCHEMAS: Mapping[str, str] = {
    "CapitalSource": "A capital source (nguồn vốn): `central_budget` (ngân sách trung ương), "
    "`local_budget` (ngân sách địa phương), `land_use_revenue` (tiền sử dụng đất), `oda` (ODA "
    "and foreign loans), `other`. Capital of one source never becomes another.",
    "Authority": "Who assigned a plan: `national_assembly` (Quốc hội), `prime_minister` (Thủ "
    "tướng), `provincial_council` (HĐND), `provincial_committee` (UBND), `ministry` (Bộ).",
    "PlanKind": "`medium_term` (kế hoạch đầu tư công trung hạn, 5 years) or `annual` (kế hoạch "
    "vốn năm).",
    "ProjectStatus": "A project's status: `on_track`, `slow` (chậm tiến độ), "
    "`under_violation_handling`, `suspended`, `terminated`, `completed`, `settled` (quyết toán).",
    "Dimension": "A dimension balances are grouped by.",
    "WatchLevel": "What a watch list lists: projects or their investors.",
    "Role": "An API key's role (see `x-roles` of each operation).",
    "Basis": "Date a month by when the money moved (`effective`) or when the ledger learned of "
    "it (`recorded`).",
    "AsOfOut": "The point a query was answered at.",
    "BalancesOut": "A project's or group's balances, whole VND each.",
    "BalanceOut": "The balances of one group.",
    "BalancePage": "One page of balances grouped by a dimension.",
    "ChangeOut": "One group's balances at two dates and the change between them.",
    "ChangePage": "One page of balance changes between two dates.",
    "RateOut": "A rate: numerator ÷ denominator, as a decimal and in percent.",
    "RateEntry": "The rate against one denominator plan.",
    "RatesOut": "Disbursement rates of a jurisdiction and year against chosen plans.",
    "SeriesOut": "Monthly disbursement and its cumulative rate (the S-curve).",
    "QueriesPointOut": "One month of the series.",
    "AuditPointOut": "A point in a project's life.",
    "BunchingOut": "How the year's disbursement is spread over quarters and December.",
    "WatchEntryOut": "A project or investor below the reference rate.",
    "WatchListOut": "Projects or investors disbursing below a threshold or the average.",
    "LateEntryOut": "A disbursement recorded after its effective date.",
    "LatePage": "One page of late entries, latest first.",
    "PlanOut": "A capital plan (kế hoạch vốn) as the read model holds it now.",
    "PlanVersionOut": "One version of a plan: its approval or an adjustment (điều chỉnh).",
    "PlanCapitalOut": "A plan's capital of one source.",
    "AdjustmentCountOut": "How many times a plan was adjusted in a year.",
    "ProjectOut": "A project as the read model holds it now.",
    "ProjectPage": "One page of projects.",
    "PageInfo": "Where a page is in the whole list.",
    "CommandResult": "The outcome of a command: what it recorded (201) or, replayed, what it "
    "recorded the first time (200).",
    "DecisionOut": "The decision (quyết định) behind an event.",
    "HistoryEntryOut": "One event of a project's history with the balances after it; `data` is "
    "typed by `event` (see `HistoryEntry`).",
    "HistoryPage": "One page of a project's history, oldest first.",
    "LineOut": "A project's capital from one plan and source.",
    "ContractOut": "A works contract and its advances and payments.",
    "ProjectStateOut": "A project as the ledger held it at a point.",
    "LineChangeOut": "The change of one line between two points.",
    "DiffOut": "What changed in a project between two points.",
    "BrokenLinkOut": "Where a hash chain breaks.",
    "VerifyOut": "The outcome of recomputing every hash chain.",
    "ProjectVerifyOut": "The outcome of recomputing one project's hash chain.",
    "DigestOut": "A published heads digest.",
    "KeyEventOut": "One event of an API key's administration.",
    "KeyHistory": "An API key's administration, oldest first.",
    "KeyOut": "An API key (never its token).",
    "IssuedKeyOut": "A new API key, with its token (shown this once).",
    "NewKey": "A key to create.",
    "NewScope": "A finance officer's key's new scope.",
    "FieldProblem": "One invalid field of a request.",
    "Check": "One readiness check.",
    "Health": "The process is alive.",
    "Readiness": "Whether the API can serve: its checks.",
    "IatiPage": "IATI activities, one page.",
    "InclusionProof": "An entry's inclusion proof in the log's Merkle tree.",
    "ConsistencyProof": "A proof that one tree size extends a smaller one.",
    "CosignaturesStored": "The cosignatures stored for a checkpoint.",
    "ApprovePlan": "Approve a capital plan (kế hoạch vốn) by a decision.",
    "AdjustPlan": "Adjust (điều chỉnh) a plan's envelopes by a decision.",
    "RegisterProject": "Register a project by its investment decision.",
    "AdjustTotalInvestment": "Adjust a project's total investment (tổng mức đầu tư) by a decision.",
    "ChangeInvestor": "Hand a project to another investor (chủ đầu tư).",
    "ChangeStatus": "Change a project's status; a decision is optional.",
    "Settle": "Settle a project (quyết toán) by a decision.",
    "Allocate": "Allocate plan capital to a project (giao kế hoạch vốn) by a decision.",
    "Transfer": "Transfer undisbursed capital between two projects of the same plan and source "
    "(điều chuyển) by a decision.",
    "Cut": "Cut a project's undisbursed allocation (cắt giảm) back to the plan by a decision.",
    "Extend": "Extend the disbursement period of a plan's capital (kéo dài thời gian giải "
    "ngân) by a decision.",
    "Lapse": "Lapse capital neither disbursed nor extended after its deadline.",
    "SignContract": "Record a signed works contract.",
    "PayAdvance": "Record an advance (tạm ứng) paid through the State Treasury (Kho bạc Nhà nước).",
    "PayCompletedWork": "Record a payment for completed work (thanh toán khối lượng hoàn thành) "
    "through the State Treasury (Kho bạc Nhà nước).",
    "ReverseEntry": "Correct a wrong entry by a compensating event that points to it.",
}


def meaning(name: str, *qualifiers: str) -> str | None:
    """The meaning of ``name`` under the first qualifier that has one, else its own."""
    for qualifier in qualifiers:
        found = QUALIFIED.get(f"{qualifier}.{name}")
        if found is not None:
            return found
    return TERMS.get(name)
