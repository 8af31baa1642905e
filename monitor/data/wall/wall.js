// The wall page: follows /stream (server-sent events, docs/stream.md) and draws each
// underlying's state. Every figure shown carries its raw value in data-value (what the
// browser test compares with the Redis state). No library: SVG drawn by hand.
"use strict";

const params = new URLSearchParams(location.search);
const wanted = (params.get("u") || "").split(",").map(s => s.trim().toUpperCase()).filter(Boolean);
const token = params.get("token");
const HISTORY_POINTS = 3600;  // session chart: at most this many states per underlying
const HEAT_COLUMNS = 240;     // heatmap: at most this many time columns per underlying
const HEAT_RANGE = 0.04;      // heatmap: strikes within this fraction of spot
const HORIZON_NAMES = {"+1h": "in 1 hour", "close": "at the close", "next_open": "next open",
                       "after_next_expiry": "after next expiry"};

const panels = {};      // root -> {el, history: [{t, gex, vex, cex, tape, spot}],
                        //          heat: [{t, spot, gex: Map(strike -> $ per 1 %)}], receivedAt}
let staleAfterMs = 10000;  // replaced by the server's stream.stale_after_s (hello event)
let lastStateAt = 0;       // browser clock when the newest state arrived
let connected = false;

// -- formatting ---------------------------------------------------------------------------
function money(x) {
  if (x === null || x === undefined || !isFinite(x)) return "–";
  const a = Math.abs(x), s = x < 0 ? "−" : "+";
  if (a >= 1e12) return `${s}$${(a / 1e12).toFixed(2)}tn`;
  if (a >= 1e9) return `${s}$${(a / 1e9).toFixed(2)}bn`;
  if (a >= 1e6) return `${s}$${(a / 1e6).toFixed(1)}m`;
  if (a >= 1e3) return `${s}$${(a / 1e3).toFixed(1)}k`;
  return `${s}$${a.toFixed(0)}`;
}
function level(x) {
  if (x === null || x === undefined || !isFinite(x)) return "–";
  return x.toLocaleString("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2});
}
// a strike: integral ones without decimals (8,000), others as listed (7,662.5)
function strike(x) {
  if (x === null || x === undefined || !isFinite(x)) return "–";
  return x.toLocaleString("en-US", {maximumFractionDigits: 2});
}
// times a person reads: America/New_York, with the zone
const NY = "America/New_York";
function nyTime(d) {
  return d.toLocaleTimeString("en-US", {timeZone: NY, hour12: false, hour: "2-digit",
                                        minute: "2-digit"}) + " ET";
}
function count(x) {
  if (x === null || x === undefined || !isFinite(x)) return "–";
  const a = Math.abs(x), s = x < 0 ? "−" : "+";
  if (a >= 1e6) return `${s}${(a / 1e6).toFixed(2)}M`;
  if (a >= 1e3) return `${s}${(a / 1e3).toFixed(1)}k`;
  return `${s}${a.toFixed(0)}`;
}
function pct(x) { return (x === null || x === undefined || !isFinite(x)) ? "" :
  `${x >= 0 ? "+" : "−"}${Math.abs(x).toFixed(2)} % from spot`; }
function scenarioName(s) {
  const parts = [];
  if (s.spot_pct) parts.push(`spot ${s.spot_pct > 0 ? "+" : "−"}${Math.abs(s.spot_pct)}%`);
  if (s.vol_pts) parts.push(`IV ${s.vol_pts > 0 ? "+" : "−"}${Math.abs(s.vol_pts)} pts`);
  if (s.days) parts.push(`+${s.days} day${s.days === 1 ? "" : "s"}`);
  return parts.join(", ") || "now";
}

function setField(el, name, value, text, cls) {
  const node = el.querySelector(`[data-field="${name}"]`);
  if (!node) return;
  node.dataset.value = value === null || value === undefined ? "" : String(value);
  node.textContent = text;
  node.classList.remove("pos", "neg");
  if (cls) node.classList.add(cls);
}
const sign = x => (x > 0 ? "pos" : x < 0 ? "neg" : "");

// -- drawing ------------------------------------------------------------------------------
const SVGNS = "http://www.w3.org/2000/svg";
function svgEl(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
// an svg drawn in its own pixels (text never stretched): returns [width, height]
function sized(svg) {
  svg.replaceChildren();
  const w = Math.max(svg.clientWidth, 100), h = Math.max(svg.clientHeight, 40);
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  return [w, h];
}
// an axis value: class axis-x or axis-y (the browser test counts them), in a colour
function axis(svg, which, x, y, text, anchor, color) {
  svg.appendChild(svgEl("text", {x, y, class: `axis-${which}`, "text-anchor": anchor || "start",
                                 fill: color || "#e6e6e6"}, text));
}

function drawLevels(svg, st) {
  const [W, H] = sized(svg);
  let marks = [["put wall", st.put_wall, "#ff4d4d", strike], ["zero γ", st.zero_gamma, "#ffb020", level],
               ["call wall", st.call_wall, "#2ecc71", strike], ["spot", st.spot, "#ffffff", level]]
    .filter(m => m[1] !== null && m[1] !== undefined && isFinite(m[1]));
  if (!marks.length) return;
  // equal levels (both walls at one strike) share one mark and one label
  const merged = [];
  for (const m of marks.sort((a, b) => a[1] - b[1])) {
    const same = merged.find(o => o[1] === m[1]);
    if (same) same[0] = `${same[0]} = ${m[0]}`; else merged.push([...m]);
  }
  marks = merged;
  const xs = marks.map(m => m[1]);
  let lo = Math.min(...xs), hi = Math.max(...xs);
  const pad = Math.max((hi - lo) * 0.12, st.spot * 0.002);
  lo -= pad; hi += pad;
  const X = v => 12 + (v - lo) / (hi - lo) * (W - 24);
  const mid = H / 2;
  svg.appendChild(svgEl("line", {x1: 12, x2: W - 12, y1: mid, y2: mid, stroke: "#445", "stroke-width": 3}));
  const rows = [20, H - 6, 42, H - 28];  // labels alternate above and below, two rows each
  marks.forEach(([name, v, color, fmt], i) => {
    const x = X(v);
    svg.appendChild(svgEl("line", {x1: x, x2: x, y1: mid - 12, y2: mid + 12, stroke: color,
                                   "stroke-width": name === "spot" ? 6 : 4}));
    const anchor = x < W * 0.2 ? "start" : x > W * 0.8 ? "end" : "middle";
    axis(svg, "x", x, rows[i % 4], `${name} ${fmt(v)}`, anchor, color);
  });
}

function drawProfile(svg, st) {
  const [W, H] = sized(svg);
  const rows = (st.profile || []).filter(r => Math.abs(r.strike / st.spot - 1) <= 0.08);
  if (!rows.length) return;
  const vals = rows.flatMap(r => [r.gex_usd_per_pct_calls, r.gex_usd_per_pct_puts]);
  const m = Math.max(...vals.map(Math.abs), 1);
  const lo = rows[0].strike, hi = rows[rows.length - 1].strike;
  const left = 116, bottom = 24;  // room for the axis values
  const X = k => left + (hi > lo ? (k - lo) / (hi - lo) : 0.5) * (W - left - 8);
  const w = Math.max(2, (W - left) / rows.length * 0.8);
  const mid = (H - bottom) / 2, half = mid - 6;
  for (const r of rows) {
    const x = X(r.strike) - w / 2;
    const c = r.gex_usd_per_pct_calls / m * half, p = r.gex_usd_per_pct_puts / m * half;
    svg.appendChild(svgEl("rect", {x, width: w, y: c >= 0 ? mid - c : mid, height: Math.abs(c),
                                   fill: "#2ecc71"}));
    svg.appendChild(svgEl("rect", {x, width: w, y: p >= 0 ? mid - p : mid, height: Math.abs(p),
                                   fill: "#ff4d4d", "fill-opacity": 0.85}));
  }
  svg.appendChild(svgEl("line", {x1: left, x2: W, y1: mid, y2: mid, stroke: "#556"}));
  for (const [v, color] of [[st.spot, "#ffffff"], [st.zero_gamma, "#ffb020"]]) {
    if (v === null || v === undefined || v < lo || v > hi) continue;
    svg.appendChild(svgEl("line", {x1: X(v), x2: X(v), y1: 0, y2: H - bottom, stroke: color,
                                   "stroke-width": 2, "stroke-dasharray": "8 5"}));
  }
  axis(svg, "y", left - 6, 20, money(m), "end");
  axis(svg, "y", left - 6, mid + 6, "0", "end");
  axis(svg, "y", left - 6, H - bottom - 4, money(-m), "end");
  axis(svg, "x", left, H - 4, strike(lo), "start");
  axis(svg, "x", X(st.spot), H - 4, `spot ${level(st.spot)}`, "middle");
  axis(svg, "x", W - 4, H - 4, strike(hi), "end");
}

// lines over the session, each series on its own axis: its range written in its colour
// at the left (min below, max above); the time axis below, America/New_York
function drawSession(svg, history, series) {
  const [W, H] = sized(svg);
  if (history.length < 2) return;
  const t0 = history[0].t, t1 = history[history.length - 1].t;
  const left = 8 + 120 * series.length, bottom = 22;
  const X = t => left + (t1 > t0 ? (t - t0) / (t1 - t0) : 1) * (W - left - 8);
  const top = 6, span = H - bottom - top - 4;
  series.forEach(([key, color, fmt], i) => {
    const ys = history.map(h => h[key]).filter(isFinite);
    if (!ys.length) return;
    const lo = Math.min(...ys), hi = Math.max(...ys);
    const Y = v => top + span - (hi > lo ? (v - lo) / (hi - lo) : 0.5) * span;
    const pts = history.filter(h => isFinite(h[key])).map(h => `${X(h.t).toFixed(1)},${Y(h[key]).toFixed(1)}`);
    svg.appendChild(svgEl("polyline", {points: pts.join(" "), fill: "none", stroke: color,
                                       "stroke-width": 3}));
    const x = 8 + 120 * (i + 1) - 6;
    axis(svg, "y", x, top + 16, fmt(hi), "end", color);
    axis(svg, "y", x, top + span, fmt(lo), "end", color);
  });
  axis(svg, "x", left, H - 3, nyTime(new Date(t0 * 1000)), "start");
  axis(svg, "x", W - 4, H - 3, nyTime(new Date(t1 * 1000)), "end");
}

function drawHeatmap(canvas, heat) {
  // strike (rows) x publish cycle (columns) on a canvas (up to HEAT_COLUMNS x ~120 cells
  // a second: too many for SVG nodes); green = dealers long gamma at that strike, red =
  // short, opacity = |GEX| against the largest cell shown; the white line is spot
  const w = canvas.width = canvas.clientWidth || 900, h = canvas.height = canvas.clientHeight || 170;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, w, h);
  canvas.dataset.cells = "0";
  if (!heat.length) return;
  const spot = heat[heat.length - 1].spot;
  const strikes = [...new Set(heat.flatMap(c => [...c.gex.keys()]))]
    .filter(k => Math.abs(k / spot - 1) <= HEAT_RANGE).sort((a, b) => a - b);
  if (!strikes.length) return;
  let m = 0;
  for (const c of heat) for (const k of strikes) m = Math.max(m, Math.abs(c.gex.get(k) || 0));
  if (!(m > 0)) return;
  const cw = w / heat.length, rh = h / strikes.length;
  let cells = 0;
  heat.forEach((c, x) => {
    strikes.forEach((k, i) => {
      const v = c.gex.get(k);
      if (!v) return;
      ctx.fillStyle = v > 0 ? "#2ecc71" : "#ff4d4d";
      ctx.globalAlpha = 0.15 + 0.85 * Math.abs(v) / m;
      ctx.fillRect(x * cw, h - (i + 1) * rh, Math.ceil(cw), Math.ceil(rh));
      cells++;
    });
  });
  ctx.globalAlpha = 1;
  const lo = strikes[0], hi = strikes[strikes.length - 1];
  const Y = v => hi > lo ? h - rh / 2 - (v - lo) / (hi - lo) * (h - rh) : h / 2;
  ctx.strokeStyle = "#ffffff"; ctx.lineWidth = 3; ctx.beginPath();
  heat.forEach((c, x) => { const px = (x + 0.5) * cw, py = Y(c.spot);
                           if (x) ctx.lineTo(px, py); else ctx.moveTo(px, py); });
  ctx.stroke();
  ctx.fillStyle = "#e6e6e6"; ctx.font = "20px DejaVu Sans, sans-serif";
  const axes = {y: [strike(hi), strike(lo)],
                x: [nyTime(new Date(heat[0].t * 1000)), nyTime(new Date(heat[heat.length - 1].t * 1000))]};
  ctx.fillText(axes.y[0], 6, 22);
  ctx.fillText(axes.y[1], 6, h - 8);
  ctx.textAlign = "right";
  ctx.fillText(`${axes.x[0]} → ${axes.x[1]}`, w - 6, h - 8);
  ctx.textAlign = "left";
  canvas.dataset.cells = String(cells);
  canvas.dataset.axisY = axes.y.join(" | ");  // what the canvas wrote (the browser test)
  canvas.dataset.axisX = axes.x.join(" | ");
}

function drawForward(tbody, forward) {
  tbody.replaceChildren();
  for (const f of forward || []) {
    const tr = document.createElement("tr");
    tr.dataset.horizon = f.horizon;
    tr.innerHTML = "<td></td><td></td><td></td><td></td><td></td>";
    tr.children[0].textContent = HORIZON_NAMES[f.horizon] || f.horizon;
    tr.children[0].title = f.ts ? nyTime(new Date(f.ts)) : "";
    tr.children[1].textContent = level(f.zero_gamma);
    tr.children[1].dataset.value = String(f.zero_gamma);
    tr.children[2].textContent = money(f.gex_usd_per_pct);
    tr.children[2].dataset.value = String(f.gex_usd_per_pct);
    tr.children[2].className = sign(f.gex_usd_per_pct);
    tr.children[3].textContent = strike(f.call_wall);
    tr.children[4].textContent = strike(f.put_wall);
    tbody.appendChild(tr);
  }
}

function drawScenarios(tbody, scenarios) {
  tbody.replaceChildren();
  for (const s of scenarios) {
    const tr = document.createElement("tr");
    const side = s.flow_usd > 0 ? "BUY" : s.flow_usd < 0 ? "SELL" : "–";
    tr.innerHTML = `<td></td><td></td><td></td><td class="${side === "BUY" ? "buy" : side === "SELL" ? "sell" : ""}"></td>`;
    tr.children[0].textContent = scenarioName(s);
    tr.children[1].textContent = money(s.flow_usd);
    tr.children[1].dataset.value = String(s.flow_usd);
    tr.children[2].textContent = count(s.flow_shares);
    tr.children[3].textContent = side;
    tbody.appendChild(tr);
  }
}

function qualityText(st) {
  const q = st.quality || {};
  const parts = [];
  const age = q.quote_staleness_seconds;
  parts.push(age === null || age === undefined ? "no quotes yet" :
             `newest quote ${age.toFixed(1)} s old (event time)`);
  if (q.iv_failed_ratio !== undefined) parts.push(`IV failed ${(100 * q.iv_failed_ratio).toFixed(1)} %`);
  if (q.iv_smile_ratio !== undefined) parts.push(`smile-priced ${(100 * q.iv_smile_ratio).toFixed(1)} %`);
  if (q.oi_age_seconds !== undefined) parts.push(`open interest ${(q.oi_age_seconds / 86400).toFixed(1)} days old`);
  if (q.ticks_per_second !== undefined) parts.push(`${Math.round(q.ticks_per_second).toLocaleString("en-US")} ticks/s`);
  return parts.join(" · ");
}

// -- state --------------------------------------------------------------------------------
function panelFor(root) {
  if (panels[root]) return panels[root];
  const el = document.getElementById("panel").content.firstElementChild.cloneNode(true);
  el.dataset.underlying = root;
  document.getElementById("waiting")?.remove();
  const wall = document.getElementById("wall");
  const after = Object.keys(panels).sort().find(r => r > root);
  wall.insertBefore(el, after ? panels[after].el : null);
  return (panels[root] = {el, history: [], heat: [], receivedAt: 0});
}

function onState(st) {
  const root = st.underlying;
  if (wanted.length && !wanted.includes(root)) return;
  const p = panelFor(root);
  p.receivedAt = Date.now();
  lastStateAt = p.receivedAt;
  const el = p.el;
  const hp = st.hedge_pressure_usd || {};
  el.dataset.asOfNs = String(st.as_of_ns);
  setField(el, "underlying", root, root);
  // the banner: the headline's own reading in short (its words and where gamma flips),
  // coloured by that reading; the regime engine's labels beside it
  const words = st.gamma_state || "";
  setField(el, "headline_short", st.headline_short,
           st.headline_short || (st.regime || "no regime").replaceAll("_", " "));
  el.querySelector('[data-field="headline_short"]').className = "gamma " + (
    /FRAGILE|HERE|LOCALLY/.test(words) ? "fragile" : words.startsWith("SHORT") ? "short" :
    words.startsWith("LONG") ? "long" : "");
  const reg = el.querySelector('[data-field="regime"]');
  setField(el, "regime", st.regime, (st.regime || "no regime").replaceAll("_", " "));
  reg.className = `regime ${st.regime || ""}`;
  setField(el, "regimes", st.regimes, (st.regimes || "").split(",").filter(r => r && r !== st.regime)
    .map(r => r.replaceAll("_", " ")).join(" · "));
  setField(el, "headline", st.headline, st.headline || "");
  setField(el, "spot", st.spot, level(st.spot));
  // where the spot came from when the feed has none (OPRA: implied from parity)
  setField(el, "spot_source", st.spot_source, st.spot_source && st.spot_source !== "feed"
           ? st.spot_source.replaceAll("_", " ") : "");
  setField(el, "zero_gamma", st.zero_gamma, level(st.zero_gamma));
  setField(el, "zero_gamma_distance_pct", st.zero_gamma_distance_pct, pct(st.zero_gamma_distance_pct));
  setField(el, "call_wall", st.call_wall, strike(st.call_wall));
  setField(el, "put_wall", st.put_wall, strike(st.put_wall));
  setField(el, "gex_usd_per_pct", st.gex_usd_per_pct, money(st.gex_usd_per_pct), sign(st.gex_usd_per_pct));
  setField(el, "vex_usd_per_vol_pt", st.vex_usd_per_vol_pt, money(st.vex_usd_per_vol_pt), sign(st.vex_usd_per_vol_pt));
  setField(el, "cex_usd_per_day", st.cex_usd_per_day, money(st.cex_usd_per_day), sign(st.cex_usd_per_day));
  setField(el, "hedge_pressure_usd", hp.total, money(hp.total), sign(hp.total));
  const by = hp.by_expiry || {};
  setField(el, "hedge_pressure_split", hp.total,
           `0DTE ${money(by["0dte"])} · next ${money(by.next)}\nlater ${money(by.later)}`);
  const charm = st.charm_to_close_usd;
  setField(el, "charm_to_close_usd", charm, money(charm), sign(charm));
  setField(el, "charm_to_close_note", st.charm_to_close_ts,
           charm === null || charm === undefined ? "" :
           `dealers ${charm > 0 ? "buy" : charm < 0 ? "sell" : "trade nothing"} by ` +
           `${st.charm_to_close_ts ? nyTime(new Date(st.charm_to_close_ts)) : "the close"} from time alone`);
  const svl = st.settled_vs_live || {};
  setField(el, "settled_vs_live", svl.label, (svl.label || "–").toUpperCase(),
           svl.label === "flip" ? "neg" : svl.label === "amplifying" ? "pos" : "");
  setField(el, "settled_vs_live_note", svl.live_gex_usd_per_pct,
           svl.label ? `settled ${money(svl.settled_gex_usd_per_pct)} → live ` +
                       `${money(svl.live_gex_usd_per_pct)} per 1 %` : "");
  const q = el.querySelector('[data-field="quality"]');
  q.textContent = qualityText(st);
  p.history.push({t: st.as_of_ns / 1e9, gex: st.gex_usd_per_pct, vex: st.vex_usd_per_vol_pt,
                  cex: st.cex_usd_per_day, tape: hp.total, spot: st.spot});
  if (p.history.length > HISTORY_POINTS) p.history.splice(0, p.history.length - HISTORY_POINTS);
  p.heat.push({t: st.as_of_ns / 1e9, spot: st.spot, gex: new Map((st.profile || []).map(
    r => [r.strike, r.gex_usd_per_pct_calls + r.gex_usd_per_pct_puts]))});
  if (p.heat.length > HEAT_COLUMNS) p.heat.splice(0, p.heat.length - HEAT_COLUMNS);
  drawLevels(el.querySelector("svg.levels"), st);
  drawProfile(el.querySelector("svg.profile"), st);
  drawSession(el.querySelector("svg.session"), p.history,
              [["gex", "#2ecc71", money], ["vex", "#4aa3ff", money], ["cex", "#ffb020", money]]);
  drawSession(el.querySelector("svg.tape"), p.history,
              [["tape", "#2ecc71", money], ["spot", "#ffffff", level]]);
  const sc = st.scenarios || [];
  const spotOnly = s => s.spot_pct && !s.vol_pts && !s.days;
  drawScenarios(el.querySelector("table.scenarios.spot tbody"), sc.filter(spotOnly));
  drawScenarios(el.querySelector("table.scenarios.other tbody"), sc.filter(s => !spotOnly(s)));
  drawForward(el.querySelector("table.forward tbody"), st.forward);
  drawHeatmap(el.querySelector("canvas.heatmap"), p.heat);
  refreshStatus();
}

function refreshStatus() {
  const status = document.getElementById("status");
  const now = Date.now();
  document.getElementById("clock").textContent = new Date(now).toLocaleTimeString(
    "en-US", {timeZone: NY, hour12: false}) + " ET";
  let state, text;
  if (!connected) {
    state = "disconnected"; text = "CONNECTION LOST — reconnecting…";
  } else if (!lastStateAt) {
    state = "connecting"; text = "CONNECTED — waiting for data";
  } else if (now - lastStateAt > staleAfterMs) {
    state = "stale"; text = `STALE — newest state ${Math.round((now - lastStateAt) / 1000)} s old`;
  } else {
    state = "live"; text = `LIVE · updated ${((now - lastStateAt) / 1000).toFixed(0)} s ago`;
  }
  status.dataset.state = state;
  status.textContent = text;
  for (const p of Object.values(panels)) {
    p.el.classList.toggle("stale", state !== "live" || now - p.receivedAt > staleAfterMs);
  }
}

function connect() {
  const q = new URLSearchParams();
  if (wanted.length) q.set("u", wanted.join(","));
  if (token) q.set("token", token);
  const es = new EventSource(`stream${q.toString() ? "?" + q : ""}`);
  es.addEventListener("open", () => { connected = true; refreshStatus(); });
  es.addEventListener("error", () => { connected = false; refreshStatus(); });
  es.addEventListener("hello", ev => {
    const h = JSON.parse(ev.data);
    staleAfterMs = 1000 * (h.stale_after_s || 10);
    if (h.reset) for (const p of Object.values(panels)) { p.history = []; p.heat = []; }
  });
  es.addEventListener("state", ev => onState(JSON.parse(ev.data)));
  es.addEventListener("regime", ev => {
    const e = JSON.parse(ev.data);
    const p = panels[e.underlying];
    if (p) p.el.dataset.lastRegimeEvent = `${e.regime}: ${e.from} -> ${e.to}`;
  });
}

connect();
setInterval(refreshStatus, 1000);
