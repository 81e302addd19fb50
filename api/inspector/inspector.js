// The inspector page: reads the ledger's JSON API with the visitor's key and shows a project's
// timeline and its plan's S-curve. Amounts arrive as strings of whole VND and are shown through
// BigInt, never as JavaScript numbers (sums pass 2^53); only the chart's coordinates are floats.
// Everything shown is set as text (never as HTML): the data cannot become markup.

const KEY_STORAGE = "capledger.apiKey";
const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 500;
// The page is served at <api>/inspector/: the API is one level up (behind a proxy's root too).
const API_BASE = new URL("../", document.baseURI);
const SVG = "http://www.w3.org/2000/svg";
const VND = new Intl.NumberFormat("vi-VN");
// Recording times in Vietnam time, written as ISO dates are (the sv-SE locale's pattern).
const TIME = new Intl.DateTimeFormat("sv-SE", {
  timeZone: "Asia/Ho_Chi_Minh",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});
const CHART = { width: 720, height: 320, left: 56, right: 72, top: 16, bottom: 40 };

const $ = (id) => document.getElementById(id);

// -- talking to the API ---------------------------------------------------------------------

class Problem extends Error {
  constructor({ status = 0, title = "Error", detail = "", code = "" }) {
    super(`${title}: ${detail}`);
    Object.assign(this, { status, title, detail, code });
  }
}

async function problemOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's page): the status line is all there is.
  }
  return new Problem({
    status: response.status,
    title: body?.title ?? (response.statusText || "Error"),
    detail: body?.detail ?? "",
    code: body?.code ?? "",
  });
}

// params: [name, value] pairs, so a name may repeat (several `plan`s); empty values are left out.
async function getJson(path, params = []) {
  const url = new URL(path, API_BASE);
  for (const [name, value] of params) {
    if (value !== undefined && value !== null && value !== "") {
      url.searchParams.append(name, String(value));
    }
  }
  let response;
  try {
    response = await fetch(url, {
      headers: { "X-API-Key": currentKey(), Accept: "application/json" },
      credentials: "omit",
      cache: "no-store",
    });
  } catch (error) {
    throw new Problem({ title: "Network error", detail: `the API did not answer (${error})` });
  }
  if (!response.ok) throw await problemOf(response);
  return response.json();
}

const segment = (code) => encodeURIComponent(code);

// -- the key and the address ------------------------------------------------------------------

function currentKey() {
  return $("key").value.trim() || sessionStorage.getItem(KEY_STORAGE) || "";
}

function rememberKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
}

// A link may carry #key=…&project=…&plan=…&as_of=…&known=…&limit=…&after=…: the fragment is
// never sent to a server. It is read once, then removed from the address bar (and the history).
function readFragment() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  if (window.location.hash) {
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  return params;
}

// -- formatting -------------------------------------------------------------------------------

function formatVnd(amount) {
  if (amount === null || amount === undefined) return "—";
  return VND.format(BigInt(amount));
}

function formatTime(iso) {
  if (!iso) return "—";
  const moment = new Date(iso);
  return Number.isNaN(moment.getTime()) ? iso : TIME.format(moment);
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  setAttributes(node, attributes);
  node.append(...children);
  return node;
}

function svgElement(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  setAttributes(node, attributes);
  node.append(...children);
  return node;
}

function setAttributes(node, attributes) {
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
}

function moneyCell(amount, field) {
  const text = formatVnd(amount);
  return element("td", { class: "amount", "data-field": field, "data-value": amount ?? "" }, text);
}

function textCell(text, field) {
  return element("td", { "data-field": field }, text ?? "—");
}

// -- problems ---------------------------------------------------------------------------------

const shownProblems = new Set();

function clearProblems() {
  shownProblems.clear();
  $("problem-list").replaceChildren();
  $("problems").hidden = true;
}

function showProblem(error) {
  const problem = error instanceof Problem ? error : new Problem({ detail: String(error) });
  const status = problem.status ? ` (${problem.status})` : "";
  const line = `${problem.title}${status}${problem.detail ? `: ${problem.detail}` : ""}`;
  if (shownProblems.has(line)) return;
  shownProblems.add(line);
  const item = element("li", { "data-status": problem.status, "data-code": problem.code });
  item.append(element("strong", { class: "problem-title" }, `${problem.title}${status}`));
  if (problem.detail) item.append(`: ${problem.detail}`);
  $("problem-list").append(item);
  $("problems").hidden = false;
}

// -- the timeline -----------------------------------------------------------------------------

const timeline = { project: "", limit: DEFAULT_PAGE_SIZE, cursors: [0], next: null };

function lateText(item) {
  if (!item.late) return "no";
  return item.lateness_days === null ? "late" : `late by ${item.lateness_days} d`;
}

function decisionText(decision) {
  if (!decision) return "—";
  return [decision.number, decision.issued_on, decision.issuer].filter(Boolean).join(" · ");
}

function timelineRow(item) {
  const row = element("tr", { "data-version": item.version, "data-late": item.late });
  const line = [item.plan_code, item.source].filter(Boolean).join(" · ") || "—";
  const recorded = element("time", { datetime: item.recorded_at }, formatTime(item.recorded_at));
  row.append(
    element("th", { scope: "row", "data-field": "version" }, String(item.version)),
    textCell(item.effective_on, "effective_on"),
    element("td", { "data-field": "recorded_at" }, recorded),
    textCell(item.event, "event"),
    textCell(line, "line"),
    moneyCell(item.amount, "amount"),
    moneyCell(item.balances.allocated, "allocated"),
    moneyCell(item.balances.capital, "capital"),
    moneyCell(item.balances.disbursed, "disbursed"),
    moneyCell(item.balances.undisbursed, "undisbursed"),
    textCell(item.principal, "principal"),
    textCell(decisionText(item.decision), "decision"),
    textCell(lateText(item), "late"),
  );
  return row;
}

async function showTimelinePage() {
  const after = timeline.cursors[timeline.cursors.length - 1];
  const page = await getJson(`projects/${segment(timeline.project)}/history`, [
    ["after", after],
    ["limit", timeline.limit],
  ]);
  timeline.next = page.next_after;
  $("timeline-rows").replaceChildren(...page.items.map(timelineRow));
  const first = page.items[0]?.version;
  const last = page.items[page.items.length - 1]?.version;
  $("timeline-summary").textContent =
    first === undefined
      ? `${page.project_code}: no events after version ${after}.`
      : `${page.project_code}: versions ${first}–${last} of ${page.head_version}.`;
  $("timeline").dataset.project = page.project_code;
  $("timeline").dataset.headVersion = page.head_version;
  $("first-page").disabled = timeline.cursors.length < 2;
  $("previous-page").disabled = timeline.cursors.length < 2;
  $("next-page").disabled = page.next_after === null;
}

async function turnPage(move) {
  move();
  clearProblems();
  try {
    await showTimelinePage();
  } catch (error) {
    showProblem(error);
  }
}

function wirePager() {
  $("next-page").addEventListener("click", () =>
    turnPage(() => timeline.cursors.push(timeline.next)),
  );
  $("previous-page").addEventListener("click", () => turnPage(() => timeline.cursors.pop()));
  $("first-page").addEventListener("click", () =>
    turnPage(() => timeline.cursors.splice(1)),
  );
}

// -- the S-curve ------------------------------------------------------------------------------

// The plans that set the scope's rates: the year's annual plans of the plan's jurisdiction,
// and the chosen plan itself (the API's own denominators, as /rates offers them).
function denominatorsOf(chosen, plans) {
  const year = chosen.start_year;
  const annual = plans.filter(
    (plan) =>
      plan.kind === "annual" &&
      plan.jurisdiction === chosen.jurisdiction &&
      plan.start_year === year,
  );
  const codes = annual.map((plan) => plan.plan_code);
  if (!codes.includes(chosen.plan_code)) codes.unshift(chosen.plan_code);
  return codes;
}

async function loadScurve(planCode, asOf, known) {
  const plans = await getJson("plans");
  fillPlanList(plans);
  const chosen = plans.find((plan) => plan.plan_code === planCode);
  if (!chosen) {
    throw new Problem({ status: 404, title: "Not found", detail: `no plan ${planCode}` });
  }
  const scope = [
    ["jurisdiction", chosen.jurisdiction],
    ["fiscal_year", chosen.start_year],
    ["as_of", asOf],
    ["known", asOf ? known : ""],
  ];
  const codes = denominatorsOf(chosen, plans);
  const rates = await getJson("rates", [...scope, ...codes.map((code) => ["plan", code])]);
  const series = await Promise.all(
    rates.rates.map((rate) => getJson("rates/monthly", [...scope, ["plan", rate.plan_code]])),
  );
  return { chosen, plans, rates, series };
}

function chartScale(series) {
  // Rates can pass 100% (a plan cut below what was paid): the axis grows to fit them.
  let top = 1;
  for (const one of series) {
    for (const point of one.points) {
      const rate = Number(point.cumulative_rate?.rate ?? 0);
      if (rate > top) top = rate;
    }
  }
  const months = series[0]?.points.length ?? 0;
  const plotWidth = CHART.width - CHART.left - CHART.right;
  const plotHeight = CHART.height - CHART.top - CHART.bottom;
  return {
    x: (index) => CHART.left + (months < 2 ? 0 : (index * plotWidth) / (months - 1)),
    y: (rate) => CHART.top + plotHeight * (1 - rate / top),
    top,
  };
}

// Horizontal rules at each quarter of the rate axis, and each month (YY-MM) under its point.
function gridLines(scale, points) {
  const lines = [];
  const right = CHART.width - CHART.right;
  for (let step = 0; step <= 4; step += 1) {
    const rate = (scale.top * step) / 4;
    const y = scale.y(rate).toFixed(1);
    const tick = { class: "tick", x: CHART.left - 6, y, "text-anchor": "end" };
    lines.push(
      svgElement("line", { class: "grid", x1: CHART.left, x2: right, y1: y, y2: y }),
      svgElement("text", tick, `${Math.round(rate * 100)}%`),
    );
  }
  const below = CHART.height - CHART.bottom + 18;
  points.forEach((point, index) => {
    const tick = { class: "tick", x: scale.x(index).toFixed(1), y: below, "text-anchor": "middle" };
    lines.push(svgElement("text", tick, point.month.slice(2)));
  });
  return lines;
}

function seriesLine(one, index, scale, label) {
  const coordinates = one.points.map((point, at) => {
    const rate = Number(point.cumulative_rate?.rate ?? 0);
    return `${scale.x(at).toFixed(1)},${scale.y(rate).toFixed(1)}`;
  });
  const code = one.denominator.plan_code;
  const line = svgElement(
    "polyline",
    { class: `series series-${index % 4}`, "data-plan": code, points: coordinates.join(" ") },
    svgElement("title", {}, `${code}: ${label}`),
  );
  const last = one.points.length - 1;
  const endRate = Number(one.points[last]?.cumulative_rate?.rate ?? 0);
  const at = {
    class: `end-label series-${index % 4}`,
    x: (scale.x(Math.max(last, 0)) + 8).toFixed(1),
    y: scale.y(endRate).toFixed(1),
    "data-plan": code,
  };
  const end = svgElement("text", at, label);
  return [line, end];
}

function rateLabel(rate) {
  return rate.rate.percent === null ? "no capital" : `${rate.rate.percent}%`;
}

function drawChart({ chosen, rates, series }) {
  const scale = chartScale(series);
  const scope = `${chosen.jurisdiction} ${chosen.start_year}`;
  const labels = rates.rates.map((rate) => `${rate.plan_code}: ${rateLabel(rate)}`);
  const description =
    `Cumulative disbursement of ${scope} as a share of each plan, by month: ` +
    `${labels.join("; ")}.`;
  const frame = {
    id: "scurve",
    role: "img",
    viewBox: `0 0 ${CHART.width} ${CHART.height}`,
    "aria-labelledby": "scurve-title scurve-desc",
  };
  const svg = svgElement(
    "svg",
    frame,
    svgElement("title", { id: "scurve-title" }, `S-curve of ${scope}`),
    svgElement("desc", { id: "scurve-desc" }, description),
    ...gridLines(scale, series[0]?.points ?? []),
    ...series.flatMap((one, index) =>
      seriesLine(one, index, scale, rateLabel(rates.rates[index])),
    ),
  );
  $("scurve-chart").replaceChildren(svg);
}

function authorityName(authority) {
  return authority.replaceAll("_", " ");
}

function legendItem(rate, index, plans) {
  const plan = plans.find((one) => one.plan_code === rate.plan_code);
  const item = element("li", { "data-plan": rate.plan_code, class: `series-${index % 4}` });
  item.append(
    element("span", { class: "swatch", "aria-hidden": "true" }),
    element("strong", { class: "rate-label", "data-plan": rate.plan_code }, rateLabel(rate)),
    ` of ${rate.plan_code} (${authorityName(rate.authority)}, version ${rate.plan_version}`,
    `${plan ? `: ${plan.title}` : ""}): ${formatVnd(rate.rate.numerator)} of `,
    `${formatVnd(rate.denominator)} VND`,
  );
  return item;
}

function seriesTable({ rates, series }) {
  const head = [
    element("th", { scope: "col" }, "Month"),
    element("th", { scope: "col", class: "amount" }, "Disbursed"),
    element("th", { scope: "col", class: "amount" }, "Cumulative"),
    ...rates.rates.map((rate) =>
      element("th", { scope: "col", class: "amount" }, `Rate of ${rate.plan_code}`),
    ),
  ];
  $("series-head").replaceChildren(...head);
  const rows = (series[0]?.points ?? []).map((point, at) =>
    element(
      "tr",
      { "data-month": point.month },
      element("th", { scope: "row" }, point.month),
      moneyCell(point.disbursed, "disbursed"),
      moneyCell(point.cumulative, "cumulative"),
      ...series.map((one) => {
        const percent = one.points[at]?.cumulative_rate?.percent;
        return element("td", { class: "amount" }, percent == null ? "—" : `${percent}%`);
      }),
    ),
  );
  $("series-rows").replaceChildren(...rows);
}

async function showScurve(planCode, asOf, known) {
  const found = await loadScurve(planCode, asOf, known);
  const { chosen, rates } = found;
  const point = rates.as_of
    ? `as of ${rates.as_of.effective}, known ${rates.as_of.known}`
    : "so far";
  $("scurve-summary").textContent =
    `${chosen.jurisdiction} ${chosen.start_year}, ${point}: ${formatVnd(rates.disbursed)} VND ` +
    `disbursed, against ${rates.rates.length} plan(s).`;
  drawChart(found);
  const legend = rates.rates.map((rate, index) => legendItem(rate, index, found.plans));
  $("rates").replaceChildren(...legend);
  seriesTable(found);
}

// -- pickers ----------------------------------------------------------------------------------

function fillPlanList(plans) {
  $("plans").replaceChildren(
    ...plans.map((plan) => element("option", { value: plan.plan_code }, plan.title)),
  );
}

async function fillProjectList() {
  const page = await getJson("projects", [["limit", 1000]]);
  $("projects").replaceChildren(
    ...page.items.map((project) =>
      element("option", { value: project.project_code }, project.name),
    ),
  );
}

// The project's plans (from its lines) when no plan is named.
async function plansOfProject(project) {
  const state = await getJson(`projects/${segment(project)}`);
  return [...new Set(state.lines.map((line) => line.plan_code))];
}

// -- putting it together ----------------------------------------------------------------------

function pageSize(text) {
  const size = Number.parseInt(text ?? "", 10);
  return Number.isInteger(size) && size >= 1 ? Math.min(size, MAX_PAGE_SIZE) : DEFAULT_PAGE_SIZE;
}

async function attempt(task) {
  try {
    await task();
    return true;
  } catch (error) {
    showProblem(error);
    return false;
  }
}

async function show({ after = 0 } = {}) {
  document.body.dataset.state = "loading";
  clearProblems();
  const project = $("project").value.trim();
  const asOf = $("as-of").value;
  const known = $("known").value;
  let plan = $("plan").value.trim();
  const results = [attempt(fillProjectList)];
  if (project) {
    Object.assign(timeline, { project, cursors: after ? [0, after] : [0], next: null });
    results.push(attempt(showTimelinePage));
    if (!plan) {
      await attempt(async () => {
        plan = (await plansOfProject(project))[0] ?? "";
      });
    }
  }
  if (plan) results.push(attempt(() => showScurve(plan, asOf, known)));
  const outcomes = await Promise.all(results);
  const clean = outcomes.every(Boolean) && shownProblems.size === 0;
  document.body.dataset.state = clean ? "ready" : "error";
}

// A violation means part of the page was refused by its own policy: counted where tests and
// developers can see it, since nothing else in the page would show it.
function countPolicyViolations() {
  document.body.dataset.cspViolations = "0";
  document.addEventListener("securitypolicyviolation", () => {
    document.body.dataset.cspViolations = String(Number(document.body.dataset.cspViolations) + 1);
  });
}

function start() {
  countPolicyViolations();
  const fragment = readFragment();
  $("key").value = fragment.get("key") ?? sessionStorage.getItem(KEY_STORAGE) ?? "";
  rememberKey(fragment.get("key"));
  $("project").value = fragment.get("project") ?? "";
  $("plan").value = fragment.get("plan") ?? "";
  $("as-of").value = fragment.get("as_of") ?? "";
  $("known").value = fragment.get("known") ?? "";
  timeline.limit = pageSize(fragment.get("limit"));
  wirePager();
  $("query").addEventListener("submit", (event) => {
    event.preventDefault();
    rememberKey($("key").value.trim());
    show();
  });
  $("forget").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORAGE);
    $("key").value = "";
  });
  if (currentKey() && (fragment.get("project") || fragment.get("plan"))) {
    show({ after: Number.parseInt(fragment.get("after") ?? "0", 10) || 0 });
  }
}

start();
