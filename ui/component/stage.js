// The stage: the clock and the animation of saga runs, in the browser.
//
// Streamlit mounts this once (key "stage") and calls the default export again with new `data` whenever
// Python sends some (new runs after an injection, the faults list, a clock command). Everything that
// moves with time is drawn here, frame by frame, from the runs Python digested once (viz/stage.py):
// playing sends nothing to the server. The stage reports its clock (setStateValue "ui") only when it
// matters: play, pause, a scrub, a step, the end; an instructor's button sends its fault with the time
// on screen: first straight to the page's route (POST /api/stage/inject, ui/api.py), which answers with the
// new runs faster than a rerun could; the stage swaps them in at once and then tells its session
// (setTriggerValue "injected"). If the route cannot be reached, the press goes through a rerun
// (setTriggerValue "inject"). A following learner's stage long-polls its room (GET /api/rooms/CODE/follow)
// and takes the instructor's clock itself; it asks its page for a rerun (trigger "room") only when more than
// the clock moved.
//
// Testing hooks (a contract the browser tests rely on): the root carries data-stage, data-t (the clock,
// every frame) and data-run (the runs drawn); each message token is an SVG element with data-msg (its
// msg_id) and data-style; the transport buttons are named Play, Pause, Back, Next, Restart.

const SVG = "http://www.w3.org/2000/svg";
const FLOW_COLOURS = {forward: "#0072B2", reply: "#009E73", failure: "#D55E00", compensation: "#E69F00"};
const FLOW_WORDS = {forward: "request / event", reply: "reply", failure: "failure", compensation: "compensation"};
const COPY_COLOUR = "#CC79A7";
const WORK_FILLS = {"s:succeeded": "#0072B2", "s:failed": "#D55E00", "s:open": "#56B4E9", "s:lost": "#B8B8B8",
  "c:succeeded": "#E69F00", "c:failed": "#8C3A00", "c:open": "#F5CC7A", "c:lost": "#E8D9B5", down: "#8A8A8A"};
const STATUS = {  // fill, text colour, word
  idle: ["#FFFFFF", "#333333", "idle"], working: ["#56B4E9", "#0B2536", "working"],
  failed: ["#D55E00", "#FFFFFF", "failed"], compensating: ["#E69F00", "#2B1B00", "compensating"],
  crashed: ["#8A8A8A", "#FFFFFF", "crashed"], directing: ["#D6EBF8", "#0B2536", "directing the saga"]};
const GLYPH = {failed: "\u2715", compensating: "\u21B6", crashed: "\u2716", working: "\u2026", idle: "",
  directing: "\u2026"};
const BADGES = {waiting: "waiting", running: "running", completed: "completed", compensated: "compensated",
  stuck: "STUCK", deadlocked: "deadlocked", in_flight: "running"};
const SPEEDS = [0.25, 0.5, 1, 2, 4];
const MAX_TOKENS = 80;
const LOG_LINES = 150;
const W = 420, H = 312, CX = 210, CY = 152, RX = 160, RY = 100;   // the stage's drawing coordinates
const SEQ_W = 420, SEQ_TOP = 34, SEQ_PX = 40;                     // sequence diagram: px per time unit

// transport icons as SVG paths (a 24x24 box): no font has to carry them
const ICONS = {
  play: "M7 4v16l13-8z", pause: "M6 4h4v16H6zM14 4h4v16h-4z", back: "M6 5h2v14H6zM20 5v14L9 12z",
  next: "M16 5h2v14h-2zM4 5v14l11-7z", again: "M12 5V2L7 6l5 4V7a5 5 0 1 1-5 5H5a7 7 0 1 0 7-7z",
  restart: "M3 5h2v14H3zM13 5v14L6 12zM21 5v14l-7-7z"};   // |<< : not Back's |<, even without words

// ---------------------------------------------------------------- small helpers

function icon(name, parent) {
  const svg = el("svg:svg", {viewBox: "0 0 24 24", width: 16, height: 16, class: "icon", "aria-hidden": "true"}, parent);
  el("svg:path", {d: ICONS[name], fill: "currentColor"}, svg);
  return svg;
}

function el(tag, attrs, parent, text) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;     // always as text: names come from users' files
  if (parent) parent.appendChild(node);
  return node;
}

function fmt(t) { return (Math.round(t * 100) / 100).toFixed(2); }
function num(x) { return Number.isInteger(x) ? String(x) : String(Math.round(x * 100) / 100); }

// the last index i with key(rows[i]) <= t, or -1
function lastAtOrBefore(rows, t, key) {
  let lo = 0, hi = rows.length - 1, found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (key(rows[mid]) <= t + 1e-9) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return found;
}

function lerp(a, b, f) { f = Math.min(Math.max(f, 0), 1); return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f]; }

// ---------------------------------------------------------------- one run on the stage

class RunView {
  constructor(run, column, cardColumn, style) {
    this.run = run;
    this.style = style;
    this.col = column;
    this.cardCol = cardColumn;
    this.build();
  }

  positions() {
    const pos = {broker: [CX, CY]};
    const ring = this.run.nodes.filter((n) => n !== "orchestrator");
    // the top is the orchestrator's place in both styles, so every service sits where it sits in the other
    pos.orchestrator = [CX, CY - RY];
    ring.forEach((name, k) => {
      const a = Math.PI / 2 + 2 * Math.PI * (k + 1) / (ring.length + 1);
      pos[name] = [CX + RX * Math.cos(a), CY - RY * Math.sin(a)];
    });
    return pos;
  }

  build() {
    const run = this.run, col = this.col;
    col.replaceChildren();
    const head = el("div", {class: "head"}, col);
    el("h3", {}, head, run.style === "orchestration" ? "Orchestration" : "Choreography");
    el("p", {class: "line"}, head, run.line);
    this.badges = el("div", {class: "badges", "aria-label": "sagas"}, col);
    const svg = el("svg:svg", {viewBox: `0 0 ${W} ${H}`, class: "stage-svg", role: "img",
      "aria-label": `${run.style} services and messages`}, col);
    this.svg = svg;
    this.pos = this.positions();
    const spokes = el("svg:g", {class: "spokes"}, svg);
    for (const n of run.nodes) el("svg:line", {x1: CX, y1: CY, x2: this.pos[n][0], y2: this.pos[n][1]}, spokes);
    if (run.style === "choreography") {
      el("svg:text", {x: CX, y: CY - RY - 4, class: "ghost"}, svg, "no orchestrator:");
      el("svg:text", {x: CX, y: CY - RY + 12, class: "ghost"}, svg, "each service decides for itself");
    }
    const broker = el("svg:g", {class: "broker"}, svg);
    el("svg:rect", {x: CX - 42, y: CY - 18, width: 84, height: 36, rx: 10}, broker);
    el("svg:text", {x: CX, y: CY + 5}, broker, "broker");
    this.nodes = {};
    for (const n of run.nodes) {
      const [x, y] = this.pos[n];
      const g = el("svg:g", {class: "node", "data-node": n}, svg);
      const circle = el("svg:circle", {cx: x, cy: y, r: 23, fill: STATUS.idle[0]}, g);   // never a black frame
      const glyph = el("svg:text", {x, y: y + 6, class: "glyph"}, g, "");
      const above = y < CY - 40;
      el("svg:text", {x, y: above ? y - 31 : y + 40, class: "name"}, g, n);
      const word = el("svg:text", {x, y: above ? y + 38 : y + 55, class: "status"}, g, "idle");
      this.nodes[n] = {circle, glyph, word, status: null};
    }
    this.trails = el("svg:g", {class: "trails"}, svg);
    this.tokens = el("svg:g", {class: "tokens"}, svg);
    this.pool = new Map();       // message index -> its token
    this.now = el("div", {class: "now", role: "status"}, col);
    this.cardCol.replaceChildren();
    el("div", {class: "dhead"}, this.cardCol, run.style === "orchestration" ? "Orchestration" : "Choreography");
    this.cards = el("div", {class: "cards"}, this.cardCol);
    // work rows by service, for statuses
    this.work = {};
    for (const w of run.work) (this.work[w[0]] ||= []).push(w);
    this.hop = run.hop || 0.1;
    this.flash = run.flash || 1;
    this.last = {moment: -2, state: -2, badges: "", log: -2};
  }

  statusAt(service, t) {
    const rows = this.work[service] || [];
    let comp = false, work = false;
    for (const [, kind, start, end, outcome] of rows) {
      if (start > t) break;
      const stop = end === null ? Infinity : end;
      if (kind === "d" && t < stop) return "crashed";
      if (outcome === "failed" && stop <= t && t < stop + this.flash) return "failed";
      if (t < stop) { if (kind === "c") comp = true; else if (kind === "s") work = true; }
    }
    return comp ? "compensating" : work ? "working" : "idle";
  }

  tokenAt(m, t) {
    // [x, y, leg] where leg 0: src -> broker, 1: waiting at the broker, 2: broker -> dst
    const [, , src, dst, sent, end, fate, , copy] = m;
    const a = this.pos[src] || this.pos.broker, mid = this.pos.broker, b = this.pos[dst] || this.pos.broker;
    const total = end === null ? Infinity : end - sent;
    const first = copy ? 0 : Math.min(this.hop, total / 2);
    const last = fate === "d" ? Math.min(this.hop, total / 2) : 0;
    if (t - sent < first) return [...lerp(a, mid, (t - sent) / first), 0, a];
    if (end !== null && last > 0 && end - t < last) return [...lerp(mid, b, 1 - (end - t) / last), 2, mid];
    return [mid[0], mid[1], 1, mid];
  }

  drawTokens(t) {
    const msgs = this.run.msgs, seen = new Set();
    const hi = lastAtOrBefore(msgs, t, (m) => m[4]);
    const lostFor = Math.max(2 * this.hop, this.flash / 2);
    const waiting = {};
    let shown = 0;
    for (let i = hi; i >= 0 && shown < MAX_TOKENS; i--) {
      const m = msgs[i];
      const end = m[5];
      const dropped = m[6] === "x" || m[6] === "u";     // lost by the broker, or never sent (fate "u")
      if (end !== null && t >= end && !(dropped && t < end + (m[6] === "u" ? 2 * lostFor : lostFor))) continue;
      if (t < m[4]) continue;
      shown++;
      seen.add(i);
      let tok = this.pool.get(i);
      if (!tok) tok = this.makeToken(i, m);
      if (dropped && end !== null && t >= end) {
        const unsent = m[6] === "u";        // it never left its service: the ✕ sits by the service, not the broker
        const [lx, ly] = unsent ? lerp(this.pos[m[2]] || this.pos.broker, this.pos.broker, 0.4) : [CX + 18, CY - 26];
        tok.g.setAttribute("class", "tok lost");
        tok.g.setAttribute("transform", `translate(${lx.toFixed(1)},${ly.toFixed(1)})`);
        tok.g.style.opacity = String(1 - (t - end) / (unsent ? 2 * lostFor : lostFor));
        tok.trail.setAttribute("d", "");
        // above its ✕, on the spoke: beside it, it would run over the neighbours' names
        if (unsent) { this.labelAs(tok, `${tok.name}: never sent`); this.placeLabel(tok, lx, true); }
        continue;
      }
      let [x, y, leg, from] = this.tokenAt(m, t);
      if (leg === 1) {                       // waiting at the broker: queue up on the receiver's spoke
        const queue = (waiting[m[3]] ||= []);
        queue.push(tok);
        const target = this.pos[m[3]] || this.pos.broker;
        [x, y] = lerp(this.pos.broker, target, Math.min(0.24 + 0.1 * (queue.length - 1), 0.62));
        from = null;
      }
      this.labelAs(tok, tok.name);
      if (m[8] === 1) { x += 9; y -= 9; }    // the broker's duplicate copy sits beside the original
      tok.g.setAttribute("transform", `translate(${x.toFixed(1)},${y.toFixed(1)})`);
      this.placeLabel(tok, x);
      tok.trail.setAttribute("d", from ? `M${from[0].toFixed(1)},${from[1].toFixed(1)}L${x.toFixed(1)},${y.toFixed(1)}` : "");
    }
    for (const [i, tok] of this.pool) if (!seen.has(i)) { tok.g.remove(); tok.trail.remove(); this.pool.delete(i); }
    // a queue at the broker says how long it is once, on its last token, instead of stacking its labels
    for (const [dst, queue] of Object.entries(waiting)) {
      // short: a long label would run over a service's name beside the spoke (its spoke says for whom)
      queue.forEach((tok, k) => this.labelAs(tok, k < queue.length - 1 ? "" : queue.length > 1 ? `${queue.length} waiting` : tok.name));
    }
  }

  // the label points away from the centre (off the broker), unless it would leave the picture there: then
  // the other side, or above the token. Its width is estimated from its length (12 px semibold).
  placeLabel(tok, x, above) {
    const w = tok.shown.length * 6.8;
    const away = x < CX - 4 ? "left" : "right";
    const fits = {right: x + 12 + w <= W - 2, left: x - 12 - w >= 2};
    const side = above ? "above" : fits[away] ? away : fits[away === "left" ? "right" : "left"] ? (away === "left" ? "right" : "left") : "above";
    const dx = side === "above" ? Math.max(0, w / 2 + 2 - x) - Math.max(0, x + w / 2 + 2 - W) : 0;
    const key = `${side}${Math.round(dx)}`;
    if (key === tok.side) return;
    tok.side = key;
    tok.label.setAttribute("x", side === "left" ? -12 : side === "right" ? 12 : Math.round(dx));
    tok.label.setAttribute("y", side === "above" ? -12 : 4);
    tok.label.setAttribute("class", `label ${side}`);
  }

  labelAs(tok, text) {
    if (tok.shown !== text) { tok.shown = text; tok.label.textContent = text; }
  }

  makeToken(i, m) {
    const [id, name, , , , , , flow, copy, saga] = m;
    const colour = copy === 1 ? COPY_COLOUR : FLOW_COLOURS[flow] || FLOW_COLOURS.forward;
    const trail = el("svg:path", {class: `trail ${flow}`, stroke: FLOW_COLOURS[flow] || FLOW_COLOURS.forward}, this.trails);
    const g = el("svg:g", {class: `tok ${flow}${copy ? " copy" : ""}`, "data-msg": String(id),
      "data-style": this.style, "data-flow": flow}, this.tokens);
    el("svg:title", {}, g, `${name} #${id}, saga ${saga}: ${m[2]} \u2192 broker \u2192 ${m[3]} (${FLOW_WORDS[flow] || flow})`);
    if (copy === 1) el("svg:rect", {x: -7, y: -7, width: 14, height: 14, transform: "rotate(45)", fill: colour}, g);
    else el("svg:circle", {r: flow === "compensation" ? 9 : 7.5, fill: colour}, g);
    const mark = flow === "compensation" ? "\u21B6 " : flow === "failure" ? "\u2715 " : copy === 1 ? "copy: " : "";
    const label = el("svg:text", {x: 12, y: 4, class: "label"}, g, mark + name);
    el("svg:text", {x: 0, y: 0, class: "lostmark"}, g, "\u2715");
    const tok = {g, trail, label, side: "right0", name: mark + name, shown: mark + name};
    this.pool.set(i, tok);
    return tok;
  }

  // the orchestrator does no step of its own: while a saga runs it is directing it (it sent a command and
  // waits for the reply), which "idle" would hide
  directing(t) {
    return this.run.sagas.some(([, start, end]) => start <= t && (end === null || t < end));
  }

  drawNodes(t) {
    for (const [n, node] of Object.entries(this.nodes)) {
      let s = this.statusAt(n, t);
      if (s === "idle" && n === "orchestrator" && this.directing(t)) s = "directing";
      if (s === node.status) continue;
      node.status = s;
      node.circle.setAttribute("fill", STATUS[s][0]);
      node.circle.setAttribute("class", s);
      node.glyph.textContent = GLYPH[s];
      node.glyph.setAttribute("fill", STATUS[s][1]);
      node.word.textContent = STATUS[s][2];
      node.word.setAttribute("class", `status ${s}`);
    }
  }

  drawBadges(t) {
    const parts = [];
    const counts = {};
    for (const [id, start, end, outcome] of this.run.sagas) {
      const s = t < start ? "waiting" : end === null || t < end ? "running" : outcome;
      parts.push([id, s]);
      counts[s] = (counts[s] || 0) + 1;
    }
    const key = parts.map((p) => p[1]).join();
    if (key === this.last.badges) return;
    this.last.badges = key;
    this.badges.replaceChildren();
    if (parts.length > 8) {
      for (const [s, n] of Object.entries(counts)) el("span", {class: `badge ${s}`}, this.badges, `${n} ${BADGES[s]}`);
    } else {
      for (const [id, s] of parts) el("span", {class: `badge ${s}`}, this.badges, `saga ${id} ${BADGES[s]}`);
    }
  }

  drawNow(t) {
    const moments = this.run.moments;
    const i = lastAtOrBefore(moments, t, (m) => m[0]);
    if (i === this.last.moment) return;
    this.last.moment = i;
    this.now.replaceChildren();
    if (i < 0) {
      this.now.className = "now quiet";
      el("span", {}, this.now, "Nothing has happened yet: press Play or Next.");
      return;
    }
    const [mt, , count, telling] = moments[i];
    const line = this.run.log[telling];
    this.now.className = `now ${line[1] || "plain"}`;
    el("b", {}, this.now, `t = ${num(mt)} \u00B7 ${line[2]}`);
    if (count > 1) el("span", {class: "more"}, this.now, ` (+${count - 1} more at this moment)`);
  }

  drawCards(t) {
    const states = this.run.states;
    const i = Math.max(0, lastAtOrBefore(states, t, (s) => s[0]));
    if (i === this.last.state) return;
    this.last.state = i;
    const [, balances, stock, orders] = states[i];
    const [, b0, s0] = states[0];
    this.cards.replaceChildren();
    const row = el("div", {class: "cardrow"}, this.cards);
    const card = (label, value, start, kind) => {
      const c = el("div", {class: `card ${kind}`}, row);
      el("span", {class: "k"}, c, label);
      el("span", {class: "v"}, c, num(value));
      const d = value - start;
      if (d) el("span", {class: d > 0 ? "d up" : "d down"}, c, (d > 0 ? "+" : "") + num(d));
    };
    Object.entries(balances).slice(0, 4).forEach(([k, v]) => card(k, v, b0[k] ?? v, "money"));
    Object.entries(stock).slice(0, 3).forEach(([k, v]) => card(k, v, s0[k] ?? v, "stock"));
    const ords = el("div", {class: "orders"}, this.cards);
    const entries = Object.entries(orders);
    if (!entries.length) el("span", {class: "muted"}, ords, "Orders: none yet");
    else {
      el("span", {class: "muted"}, ords, "Orders: ");
      for (const [k, v] of entries.slice(0, 10)) el("span", {class: `badge order ${v}`}, ords, `order ${k} ${v}`);
      if (entries.length > 10) el("span", {class: "muted"}, ords, ` +${entries.length - 10} more`);
    }
  }

  draw(t) {
    this.drawTokens(t);
    this.drawNodes(t);
    this.drawBadges(t);
    this.drawNow(t);
    this.drawCards(t);
  }
}

// ---------------------------------------------------------------- the sequence diagram and the log of a run

class DetailView {
  constructor(run, column, style, uid) {
    this.run = run;
    this.style = style;
    column.replaceChildren();
    el("div", {class: "dhead"}, column, run.style === "orchestration" ? "Orchestration" : "Choreography");
    this.seqBox = el("div", {class: "seqbox"}, column);
    this.logBox = el("div", {class: "logbox", role: "log"}, column);
    this.buildSequence(uid);
    this.lastLog = -2;
  }

  y(t) { return SEQ_TOP + t * SEQ_PX; }

  buildSequence(uid) {
    const run = this.run, lanes = run.nodes;
    const height = this.y(run.end) + 40;
    const svg = el("svg:svg", {viewBox: `0 0 ${SEQ_W} ${height}`, width: "100%", class: "seq-svg",
      style: `aspect-ratio: ${SEQ_W} / ${height}`}, this.seqBox);
    const x = {};
    lanes.forEach((n, k) => { x[n] = 40 + (SEQ_W - 80) * (lanes.length > 1 ? k / (lanes.length - 1) : 0.5); });
    const defs = el("svg:defs", {}, svg);
    const id = `seq-${uid}`;
    const clip = el("svg:clipPath", {id: `${id}-clip`}, defs);
    this.clipRect = el("svg:rect", {x: 0, y: 0, width: SEQ_W, height: SEQ_TOP}, clip);
    for (const [flow, colour] of Object.entries(FLOW_COLOURS)) {
      const marker = el("svg:marker", {id: `${id}-${flow}`, viewBox: "0 0 10 10", refX: 9, refY: 5,
        markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse"}, defs);
      el("svg:path", {d: "M0,0L10,5L0,10z", fill: colour}, marker);
    }
    const content = el("svg:g", {id: `${id}-content`}, defs);
    for (const n of lanes) {
      el("svg:line", {x1: x[n], y1: SEQ_TOP - 6, x2: x[n], y2: height - 10, class: "lifeline"}, content);
    }
    for (const [service, kind, start, end, outcome] of run.work) {
      if (!(service in x)) continue;
      const stop = end === null ? run.end : end;
      // colours as attributes: what a <use> draws is not reached by selectors through its ancestors
      const fill = WORK_FILLS[kind === "d" ? "down" : `${kind}:${outcome}`] || WORK_FILLS[`${kind}:succeeded`];
      el("svg:rect", {x: x[service] - 5, y: this.y(start), width: 10, height: Math.max(2, (stop - start) * SEQ_PX),
        fill, "fill-opacity": kind === "d" ? 0.55 : 1}, content);
      if (outcome === "failed") el("svg:text", {x: x[service] + 9, y: this.y(stop) + 4, class: "failmark"}, content, "\u2715");
      if (kind === "d") el("svg:text", {x: x[service] + 9, y: this.y(start) + 12, class: "downmark"}, content, "crashed");
    }
    for (const m of run.msgs) {
      const [, name, src, dst, sent, end, fate, flow, copy] = m;
      if (fate === "u" && src in x) {      // never published: a stub from its service, and why
        const dir = x[src] > SEQ_W / 2 ? -1 : 1, y = this.y(sent), tx = x[src] + dir * 38;
        el("svg:line", {x1: x[src], y1: y, x2: x[src] + dir * 34, y2: y, class: `msg ${flow}`,
          stroke: FLOW_COLOURS[flow] || FLOW_COLOURS.forward, "stroke-dasharray": "3 3"}, content);
        const text = el("svg:text", {x: tx, y: y - 14, class: "lostmark", "text-anchor": dir < 0 ? "end" : "start"}, content);
        el("svg:tspan", {x: tx}, text, `\u2715 ${name}`);          // two short lines above the stub (a long one left the box; below sits "crashed")
        el("svg:tspan", {x: tx, dy: 12}, text, "never sent");
        continue;
      }
      if (!(src in x) || !(dst in x)) continue;
      const stop = end === null ? run.end : end;
      const x1 = copy ? (x[src] + x[dst]) / 2 : x[src], y1 = this.y(copy === 2 ? stop - 0.2 : sent);
      let x2 = x[dst], y2 = this.y(stop);
      if (fate === "x") { x2 = (x[src] + x[dst]) / 2; }
      const line = el("svg:line", {x1, y1, x2, y2, class: `msg ${flow}${copy ? " copy" : ""}`,
        stroke: FLOW_COLOURS[flow] || FLOW_COLOURS.forward}, content);
      if (fate === "d") line.setAttribute("marker-end", `url(#${id}-${flow})`);
      if (fate === "x") el("svg:text", {x: x2, y: y2 + 5, class: "lostmark"}, content, "\u2715 lost");
      const lx = (x1 + x2) / 2, ly = (y1 + y2) / 2 - 3;
      el("svg:text", {x: lx, y: ly, class: `msglabel ${flow}`}, content, name);
    }
    el("svg:use", {href: `#${id}-content`, class: "future"}, svg);
    this.future = svg.lastChild;
    el("svg:use", {href: `#${id}-content`, "clip-path": `url(#${id}-clip)`}, svg);
    for (const n of lanes) {
      el("svg:rect", {x: x[n] - 38, y: 4, width: 76, height: 20, rx: 5, class: "lane"}, svg);
      el("svg:text", {x: x[n], y: 18, class: "lanename"}, svg, n);
    }
    this.nowLine = el("svg:line", {x1: 0, x2: SEQ_W, y1: SEQ_TOP, y2: SEQ_TOP, class: "nowline"}, svg);
    this.nowText = el("svg:text", {x: SEQ_W - 4, y: SEQ_TOP - 3, class: "nowtext"}, svg, "now");
    this.svg = svg;
    this.height = height;
  }

  drawSequence(t, reveal, follow) {
    const y = this.y(Math.min(t, this.run.end + 1));
    this.clipRect.setAttribute("height", y.toFixed(1));
    this.nowLine.setAttribute("y1", y.toFixed(1));
    this.nowLine.setAttribute("y2", y.toFixed(1));
    this.nowText.setAttribute("y", (y - 3).toFixed(1));
    this.future.style.display = reveal ? "" : "none";
    if (follow) {
      // the drawn width is read once (and again after a resize): reading it every frame forces a layout
      if (!this.scale || this.scaleWidth !== window.innerWidth) {
        this.scale = this.svg.getBoundingClientRect().width / SEQ_W || 0;
        this.scaleWidth = window.innerWidth;
      }
      const px = y * (this.scale || 1), box = this.seqBox;
      if (px < box.scrollTop + 20 || px > box.scrollTop + box.clientHeight - 30) {
        box.scrollTop = Math.max(0, px - box.clientHeight * 0.7);
      }
    }
  }

  drawLog(t, reveal) {
    const log = this.run.log;
    const n = reveal ? log.length : lastAtOrBefore(log, t, (l) => l[0]) + 1;
    const key = reveal ? `all${lastAtOrBefore(log, t, (l) => l[0])}` : n;
    if (key === this.lastLog) return;
    this.lastLog = key;
    const box = this.logBox;
    box.replaceChildren();
    const past = lastAtOrBefore(log, t, (l) => l[0]) + 1;
    el("div", {class: "loghead"}, box, `${past} of ${log.length} events so far${this.run.truncated ? " (the log of a run this big stops at 5,000)" : ""}, newest first`);
    if (!n) { el("div", {class: "muted"}, box, "Nothing yet."); return; }
    const moment = past ? log[past - 1][0] : null;
    for (let i = n - 1; i >= Math.max(0, n - LOG_LINES); i--) {
      const [lt, tone, text] = log[i];
      const future = i >= past;
      el("div", {class: `logline ${tone || ""}${lt === moment ? " current" : ""}${future ? " future" : ""}`}, box,
        `t = ${num(lt)} \u00B7 ${text}`);
    }
  }
}

// ---------------------------------------------------------------- the whole component

class Stage {
  constructor(root) {
    this.root = root;
    this.clock = {t: 0, playing: false, speed: 1, last: null};
    this.prefs = {tab: "sequence", reveal: false};
    this.panelState = {target: null, message: null, duration: 5, often: "once"};
    this.clockId = null;
    this.runsId = null;
    this.views = [];
    this.details = [];
    this.counter = 0;
    this.raf = null;
    this.dirty = true;
    this.build();
  }

  build() {
    const root = this.root;
    root.setAttribute("data-stage", "");
    root.setAttribute("data-t", "0");
    root.setAttribute("data-run", "");
    const bar = el("div", {class: "bar", role: "toolbar", "aria-label": "clock"}, root);
    this.playBtn = el("button", {class: "primary play", type: "button"}, bar);   // its word and icon: syncBar
    const step = (label, glyph, title, fn) => {
      const b = el("button", {type: "button", "aria-label": label, title}, bar);
      icon(glyph, b);
      el("span", {class: "txt"}, b, label);
      b.addEventListener("click", fn);
      return b;
    };
    step("Back", "back", "Back to the previous moment something happened", () => this.stepTo(-1));
    step("Next", "next", "On to the next moment something happens", () => this.stepTo(+1));
    step("Restart", "restart", "Back to t = 0 (the injected faults stay)", () => this.seek(0, false, "restart"));
    this.playBtn.addEventListener("click", () => this.setPlaying(!this.clock.playing));
    const speeds = el("div", {class: "speeds", role: "radiogroup", "aria-label": "Speed"}, bar);
    this.speedBtns = SPEEDS.map((s) => {
      const b = el("button", {type: "button", role: "radio", "aria-label": `${s}\u00D7 speed`,
        title: `${s} time units per second`}, speeds, `${s}\u00D7`);
      b.addEventListener("click", () => { this.clock.speed = s; this.syncBar(); this.report("speed"); });
      return b;
    });
    const scrub = el("div", {class: "scrub"}, bar);
    this.slider = el("input", {type: "range", min: 0, max: 1, step: 0.01, value: 0, "aria-label": "Time"}, scrub);
    this.slider.addEventListener("input", () => { this.seek(parseFloat(this.slider.value), true); });
    this.slider.addEventListener("change", () => this.report("scrub"));
    this.timeText = el("span", {class: "time"}, scrub, "t = 0.00");
    this.legend = el("div", {class: "legend"}, root);
    for (const [flow, colour] of Object.entries(FLOW_COLOURS)) {
      const item = el("span", {class: "item"}, this.legend);
      el("span", {class: "dot", style: `background:${colour}`}, item);
      el("span", {}, item, FLOW_WORDS[flow] + (flow === "compensation" ? " (travels back \u21B6)" : ""));
    }
    const copy = el("span", {class: "item"}, this.legend);
    el("span", {class: "dot diamond", style: `background:${COPY_COLOUR}`}, copy);
    el("span", {}, copy, "duplicate copy");
    el("span", {class: "item"}, this.legend, "\u2715 lost or never sent");
    const rv = el("label", {class: "reveal", title: "Show what lies ahead of now: greyed in the sequence diagram and the log, and the charts and the comparison below"}, this.legend);
    this.revealBox = el("input", {type: "checkbox"}, rv);
    el("span", {}, rv, "Show the whole run");
    this.revealBox.addEventListener("change", () => { this.prefs.reveal = this.revealBox.checked; this.dirty = true; this.report("reveal"); });
    // a classroom's question, for a learner: asked by the instructor, answered here (ui/api.py's routes)
    this.ask = el("div", {class: "ask", role: "region", "aria-label": "The instructor's question"}, root);
    this.ask.style.display = "none";
    this.cols = el("div", {class: "cols"}, root);
    this.errors = el("div", {class: "errors"}, root);
    this.panel = el("div", {class: "panel"}, root);
    this.cardCols = el("div", {class: "cols cardcols"}, root);
    const tabs = el("div", {class: "tabs", role: "tablist"}, root);
    this.tabBtns = {};
    for (const [key, label] of [["sequence", "Sequence diagram"], ["log", "Event log"]]) {
      const b = el("button", {type: "button", role: "tab"}, tabs, label);
      b.addEventListener("click", () => { this.prefs.tab = key; this.syncTabs(); this.report("tab"); });
      this.tabBtns[key] = b;
    }
    el("span", {class: "tabnote"}, tabs, "Both follow the clock; what lies ahead stays hidden unless \u201CShow the whole run\u201D is ticked.");
    this.detailCols = el("div", {class: "cols details"}, root);
  }

  // ------------------------------------------------------------ data from Python

  update(data, setters) {
    this.setters = setters;
    this.api = data.api || null;
    const firstRuns = this.runsId === null;
    // a following learner's page may have read the room before this stage's poll brought a later moment (its
    // rerun was under way when the instructor paused): its runs and clock are older than those on screen
    const st = this.followState, f = data.follow;
    const behind = !!(st && st.following && f && f.following && typeof f.version === "number" && f.version < st.version);
    let take = data.runs_id !== this.runsId && !behind;
    const p = this.pendingInject;
    if (p) {
      // the route's runs are on screen and the session has not adopted the fault yet: a rerun that still
      // carries the runs from before the press must not swap them back (for a few seconds at most)
      if (data.runs_id === p.runsId || performance.now() - p.at > 5000) this.pendingInject = null;
      else if (data.runs_id === p.before) take = false;
      else this.pendingInject = null;
    }
    if (take) this.swapTimed(data);
    if (data.clock && data.clock.id !== this.clockId) {
      this.clockId = data.clock.id;          // a command is taken once; one from a page that is behind, never
      if (!behind) this.takeClock(data.clock);
    }
    if (firstRuns || data.prefs_id !== this.prefsId) {
      this.prefsId = data.prefs_id;
      this.prefs.tab = data.tab === "log" ? "log" : "sequence";
      this.prefs.reveal = !!data.reveal;
    }
    this.revealBox.checked = this.prefs.reveal;
    if (!this.pendingInject) this.buildPanel(data.panel);
    this.syncTabs();
    this.syncBar();
    this.dirty = true;
    this.start();
    this.follow(data.follow || null);
  }

  swapTimed(runs) {
    const start = performance.now();
    this.swapRuns(runs);
    this.root.setAttribute("data-swap-ms", (performance.now() - start).toFixed(1));   // for the bench
  }

  drawNow() {
    // the new runs are drawn in the same task as the swap, not at the next animation frame
    this.dirty = true;
    this.frame(performance.now());
  }

  swapRuns(data) {
    const runs = data.runs || [];
    this.runs = runs;
    this.end = Math.max(0, ...runs.map((r) => r.end || 0));
    const times = new Set();
    for (const r of runs) for (const m of r.moments) times.add(m[0]);
    this.times = [...times].sort((a, b) => a - b);
    this.slider.max = String(Math.max(this.end, 0.01));
    const n = Math.max(1, runs.length);
    this.cols.style.setProperty("--n", n);
    this.detailCols.style.setProperty("--n", n);
    this.cardCols.style.setProperty("--n", n);
    this.cols.replaceChildren();
    this.cardCols.replaceChildren();
    this.detailCols.replaceChildren();
    const uid = (this.swaps = (this.swaps || 0) + 1);
    this.views = runs.map((r) => new RunView(r, el("div", {class: "col", "data-style": r.style}, this.cols),
      el("div", {class: "col", "data-style": r.style}, this.cardCols), r.style));
    this.details = runs.map((r, k) => new DetailView(r, el("div", {class: "col", "data-style": r.style}, this.detailCols),
      r.style, `${uid}-${k}`));
    this.errors.replaceChildren();
    for (const e of data.errors || []) el("div", {class: "error"}, this.errors, `${e.style}: ${e.error}`);
    this.runsId = data.runs_id;
    this.pendingRun = data.runs_id;          // data-run changes with the first frame drawn from these runs
    if (this.clock.t > this.end) this.clock.t = this.end;
  }

  buildPanel(panel) {
    const box = this.panel;
    const key = JSON.stringify(panel || null);
    if (key === this.panelKey) return;
    this.panelKey = key;
    box.replaceChildren();
    box.style.display = panel ? "" : "none";
    if (!panel) return;
    const ps = this.panelState;
    if (!panel.targets.includes(ps.target)) ps.target = panel.targets.includes("payment") ? "payment" : panel.targets[0];
    if (!panel.messages.includes(ps.message)) ps.message = panel.messages[0];
    const head = el("div", {class: "phead"}, box);
    el("b", {}, head, "Instructor: inject a failure at the time on screen");
    this.panelTime = el("span", {class: "ptime"}, head, "");
    el("span", {class: "muted"}, head, " \u00B7 the run is replayed with it; nothing before now changes");
    const rows = el("div", {class: "prows"}, box);
    const svc = el("div", {class: "prow"}, rows);
    const seg = el("div", {class: "seg", role: "radiogroup", "aria-label": "A service"}, svc);
    const targetBtns = panel.targets.map((name) => {
      const b = el("button", {type: "button", role: "radio"}, seg, name);
      b.addEventListener("click", () => { ps.target = name; sync(); });
      return [name, b];
    });
    const actions = el("div", {class: "actions"}, svc);
    const button = (parent, kind, label, help) => {
      const b = el("button", {type: "button", class: "act", "data-kind": kind, title: help}, parent, label);
      b.addEventListener("click", () => this.inject(kind));
      return b;
    };
    const fail = button(actions, "fail", "Fail its next step", "The chosen service fails its step for the next saga that reaches it (a business failure): the saga compensates what it did so far.");
    const cfail = button(actions, "compensation_fail", "Fail its compensation", "The chosen service's next compensations fail and are retried after a backoff.");
    const crash = button(actions, "crash", "", "The chosen service goes down now and comes back after the time set below; messages to it wait in the broker.");
    const slow = button(actions, "slow", "", "Every step of the chosen service takes longer from now on (enough delay trips the orchestrator's timeout).");
    const brk = el("div", {class: "prow"}, rows);
    const pick = el("label", {class: "msgpick"}, brk);
    el("span", {}, pick, "Broker, next ");
    const select = el("select", {"aria-label": "The broker: next message of the kind"}, pick);
    for (const m of panel.messages) el("option", {value: m}, select, m);
    select.value = ps.message;
    select.addEventListener("change", () => { ps.message = select.value; });
    const bact = el("div", {class: "actions"}, brk);
    button(bact, "drop", "Drop it", "The broker loses the next message of the chosen kind.");
    button(bact, "duplicate", "Duplicate it", "The broker delivers the next message of the chosen kind twice.");
    const delay = button(bact, "delay", "", "The broker holds the next message of the chosen kind back for the time set below.");
    const opts = el("div", {class: "prow opts"}, rows);
    const dl = el("label", {}, opts);
    el("span", {}, dl, "Crash for / slow by / delay by ");
    const dur = el("input", {type: "number", min: 0.1, max: 1000, step: 1, value: ps.duration, "aria-label": "Duration in time units"}, dl);
    dur.addEventListener("input", () => { const v = parseFloat(dur.value); if (v >= 0.1 && v <= 1000) { ps.duration = v; sync(); } });
    const ol = el("label", {}, opts);
    el("span", {}, ol, " Fail how often (per saga) ");
    const often = el("select", {"aria-label": "Fail how often"}, ol);
    for (const o of ["once", "twice", "every time"]) el("option", {value: o}, often, o);
    often.value = ps.often;
    often.addEventListener("change", () => { ps.often = often.value; });
    const sync = () => {
      for (const [name, b] of targetBtns) b.setAttribute("aria-checked", String(name === ps.target));
      const orch = ps.target === "orchestrator";
      fail.disabled = orch; cfail.disabled = orch;
      const d = num(ps.duration);
      crash.textContent = `Crash it for ${d}`; slow.textContent = `Slow it by ${d}`; delay.textContent = `Delay it by ${d}`;
    };
    sync();
    const list = el("div", {class: "faults"}, box);
    if (panel.own) el("div", {class: "muted"}, list, panel.own);
    if (!panel.faults.length) el("div", {class: "muted"}, list, "No injected faults yet.");
    else {
      const lh = el("div", {class: "fhead"}, list);
      el("b", {}, lh, `Injected faults (${panel.faults.length})`);
      const reset = el("button", {type: "button", class: "small"}, lh, "Reset");
      reset.addEventListener("click", () => this.trigger("reset", true));
      panel.faults.forEach((f, i) => {
        const row = el("div", {class: "fault"}, list);
        el("span", {}, row, `${i + 1}. ${f.text}`);
        el("code", {}, row, f.spec);
        if (f.note) el("span", {class: "muted"}, row, `(${f.note})`);
        const rm = el("button", {type: "button", class: "small", "aria-label": `Remove fault ${i + 1}`}, row, "Remove");
        rm.addEventListener("click", () => this.trigger("remove", f.spec));
      });
    }
    if (panel.error) el("div", {class: "error"}, list, panel.error);
  }

  // ------------------------------------------------------------ talking to Python

  state() {
    return {t: Math.round(this.clock.t * 1000) / 1000, playing: this.clock.playing, speed: this.clock.speed,
      tab: this.prefs.tab, reveal: this.prefs.reveal, n: ++this.counter};
  }

  report(why) {
    const s = this.state();
    s.why = why;
    this.setters.setStateValue("ui", s);
  }

  trigger(name, value) {
    this.setters.setTriggerValue(name, {value, ui: this.state()});
  }

  inject(kind) {
    const ps = this.panelState;
    const press = {kind, target: ps.target, message: ps.message, duration: ps.duration, often: ps.often,
      t: this.clock.t};
    const api = this.api;
    if (!api || typeof fetch !== "function") { this.trigger("inject", press); return; }
    const before = this.runsId;
    // hold the picture (and the clock) at the click until the answer: the old runs' future does not play on
    // in the meantime, the fault strikes at the very moment shown, and a main thread that draws nothing
    // takes the answer at once (a second at most, then it plays on)
    this.hold = performance.now() + 1000;
    const release = () => { this.hold = 0; };
    fetch(api.url, {method: "POST", headers: {"Content-Type": "application/json"}, cache: "no-store",
      body: JSON.stringify({scenario: api.scenario, styles: api.styles, seed: api.seed, faults: api.faults, press})})
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`status ${r.status}`))))
      .then((answer) => {
        release();
        if (answer.error) { this.buildPanel(answer.panel); return; }     // the panel says why: nothing changed
        if (answer.runs_id !== this.runsId) {
          this.pendingInject = {runsId: answer.runs_id, before, at: performance.now()};
          this.swapTimed(answer);
          this.drawNow();
        }
        api.faults = answer.faults;
        // the consequences first; the fault list and telling the session after that frame is painted
        requestAnimationFrame(() => setTimeout(() => {
          this.buildPanel(answer.panel);
          this.trigger("injected", answer.faults);         // the whole list: two quick presses lose nothing
        }, 0));
      })
      .catch(() => { release(); this.trigger("inject", press); });      // the slow way: through a rerun
  }

  // ------------------------------------------------------------ a learner follows a room

  follow(cfg) {
    const key = cfg ? `${cfg.url}|${cfg.learner}|${cfg.following}` : null;
    if (key === this.followKey) {
      if (cfg && this.followState && cfg.version !== null && cfg.version !== undefined)
        this.followState.pageVersion = cfg.version;
      return;
    }
    if (this.followState) this.followState.abort.abort();
    this.followKey = key;
    this.followState = null;
    if (!cfg || typeof fetch !== "function") { this.showAsk(null); return; }
    const st = this.followState = {abort: new AbortController(), version: -1, pageVersion: cfg.version,
      clockId: cfg.clock ?? null, following: !!cfg.following, answerUrl: cfg.answer, learner: cfg.learner};
    const wait = (ms) => new Promise((ok) => setTimeout(ok, ms));
    const loop = async () => {
      while (this.followState === st) {
        if (!this.root.isConnected) { this.followState = null; this.followKey = null; return; }   // unmounted
        try {
          const url = `${cfg.url}?learner=${encodeURIComponent(cfg.learner)}&version=${st.version}` +
            `&runs=${encodeURIComponent(this.runsId || "")}`;
          const r = await fetch(url, {signal: st.abort.signal, cache: "no-store"});
          if (this.followState !== st) return;
          if (!r.ok) { await wait(2000); continue; }
          this.takeRoom(st, await r.json());
        } catch (e) {
          if (this.followState !== st) return;
          await wait(2000);
        }
      }
    };
    loop();
  }

  takeRoom(st, room) {
    if (room.version === st.version) return;
    const first = st.version === -1;                  // the room as the page had it: only the question is new
    st.version = room.version;
    this.showAsk(room.ask || null, room.mine ?? null, !!room.revealed, st);
    if (!st.following) return;                         // exploring alone: the question, not the clock
    if (room.stage && room.stage.runs_id !== this.runsId) { this.swapTimed(room.stage); }
    const c = room.clock || {};
    let rerun = false;
    if (c.id !== st.clockId) {
      const wasPlaying = this.clock.playing;
      st.clockId = c.id;
      this.takeClock(c);
      this.syncBar();
      if (!first && wasPlaying && !this.clock.playing) rerun = true;     // a pause: the charts follow
    }
    if (room.stage) rerun = true;       // a new situation (also one that came between the page's run and this poll)
    this.drawNow();
    // the page follows too: each learner after a random wait of up to 0.8 s, so a class's reruns do not all
    // land on the server in the same instant (their stages already show the room)
    if (rerun && st.pageVersion !== room.version) {
      const version = room.version;
      setTimeout(() => { if (this.followState === st && st.version === version)
        this.setters.setTriggerValue("room", version); }, Math.random() * 800);
    }
  }

  // The question card: the instructor's question, the learner's pick (sent at once, the last one stands),
  // and once revealed the answer and why. Every text from the room is set as text, never as markup.
  showAsk(ask, mine, revealed, st) {
    const box = this.ask;
    const key = JSON.stringify([ask, mine, revealed]);
    if (key === this.askKey) return;
    this.askKey = key;
    this.askMine = mine;
    box.replaceChildren();
    box.style.display = ask ? "" : "none";
    if (!ask) return;
    el("div", {class: "askhead"}, box, `Predict: ${ask.text}`);
    if (revealed) {
      const right = mine !== null && mine === ask.answer;
      el("div", {class: `verdict ${right ? "right" : ""}`}, box,
        `Answer: ${ask.answer}. ${ask.explain || ""}` +
        (mine === null ? "" : right ? " You said so too." : ` You said: \u201C${mine}\u201D.`));
      return;
    }
    const choices = el("div", {class: "choices", role: "radiogroup", "aria-label": "Your prediction"}, box);
    for (const choice of ask.choices) {
      const b = el("button", {type: "button", role: "radio", "aria-checked": String(choice === mine)}, choices, choice);
      b.addEventListener("click", () => this.answer(st, ask, choice));
    }
    el("div", {class: "muted"}, box, mine === null
      ? "Your answer counts the moment you pick it; you may change it until the answer is shown. Nobody sees who answered what."
      : `Counted: ${mine}. You may change it until the answer is shown.`);
    if (this.askError) el("div", {class: "error"}, box, this.askError);
  }

  answer(st, ask, choice) {
    if (!st || !st.answerUrl) return;
    fetch(st.answerUrl, {method: "POST", headers: {"Content-Type": "application/json"}, cache: "no-store",
      body: JSON.stringify({learner: st.learner, question: ask.id, choice})})
      .then((r) => r.json().then((body) => [r.ok, body]))
      .then(([ok, body]) => {
        this.askError = ok ? null : body.error || "the answer was not counted";
        this.askKey = null;
        this.showAsk(ask, ok ? choice : this.askMine, false, st);
      })
      .catch(() => { this.askError = "the answer could not be sent: try again"; this.askKey = null;
        this.showAsk(ask, this.askMine, false, st); });
  }

  // ------------------------------------------------------------ the clock

  // a clock command from the server (the page's, or the room's through the poll): the time, the speed, playing
  takeClock(c) {
    this.clock.t = Math.min(Math.max(0, c.t || 0), this.end);
    this.clock.speed = c.speed || 1;
    this.clock.playing = !!c.playing && this.clock.t < this.end;
    this.clock.last = null;
  }

  setPlaying(on) {
    if (on && this.clock.t >= this.end - 1e-9) this.clock.t = 0;
    this.clock.playing = on;
    this.clock.last = null;
    this.syncBar();
    this.dirty = true;
    this.report(on ? "play" : "pause");
  }

  seek(t, quiet, why) {
    this.clock.t = Math.min(Math.max(0, t), this.end);
    this.clock.playing = false;
    this.dirty = true;
    this.syncBar();
    if (!quiet) this.report(why || "seek");
  }

  stepTo(dir) {
    const t = this.clock.t, times = this.times;
    let target = t;
    if (dir < 0) { for (let i = times.length - 1; i >= 0; i--) if (times[i] < t - 1e-9) { target = times[i]; break; } if (target === t) target = 0; }
    else { for (const x of times) if (x > t + 1e-9) { target = x; break; } }
    this.seek(target, false, dir < 0 ? "back" : "next");
  }

  syncBar() {
    const playing = this.clock.playing;
    const again = !playing && this.clock.t >= this.end - 1e-9 && this.end > 0;
    const label = playing ? "Pause" : again ? "Play again" : "Play";
    if (this.playBtn.getAttribute("aria-label") !== label) {
      this.playBtn.setAttribute("aria-label", label);
      this.playBtn.replaceChildren();
      icon(playing ? "pause" : again ? "again" : "play", this.playBtn);
      el("span", {class: "txt"}, this.playBtn, label);
    }
    for (const [i, b] of this.speedBtns.entries()) b.setAttribute("aria-checked", String(SPEEDS[i] === this.clock.speed));
  }

  syncTabs() {
    for (const [key, b] of Object.entries(this.tabBtns)) b.setAttribute("aria-selected", String(key === this.prefs.tab));
    this.followedT = null;
    this.detailCols.setAttribute("data-tab", this.prefs.tab);
  }

  start() {
    if (this.raf !== null) return;
    const frame = (now) => {
      this.raf = requestAnimationFrame(frame);
      this.frame(now);
    };
    this.raf = requestAnimationFrame(frame);
  }

  stop() {
    if (this.raf !== null) cancelAnimationFrame(this.raf);
    this.raf = null;
  }

  frame(now) {
    const c = this.clock;
    if (this.hold) {
      if (now < this.hold) { c.last = c.playing ? now : null; return; }     // an injection is on its way
      this.hold = 0;
    }
    if (c.playing) {
      const dt = c.last === null ? 0 : Math.min(Math.max(now - c.last, 0) / 1000, 0.25);   // a hidden tab does not leap
      c.last = now;
      c.t = Math.min(this.end, c.t + dt * c.speed);
      this.dirty = true;
      if (c.t >= this.end) { c.playing = false; this.syncBar(); this.report("end"); }
    }
    if (!this.dirty) return;
    this.dirty = false;
    const t = c.t;
    for (const v of this.views) v.draw(t);
    const sequence = this.prefs.tab === "sequence";
    // the diagram scrolls to "now" when the clock moves (not while a learner scrolls a paused diagram); while
    // playing it looks every 8th frame only, since reading the scroll box's size forces a layout
    this.frameNo = (this.frameNo || 0) + 1;
    const follow = sequence && t !== this.followedT && (!c.playing || this.frameNo % 8 === 0);
    if (follow) this.followedT = t;
    for (const d of this.details) {
      if (sequence) d.drawSequence(t, this.prefs.reveal, follow);
      else d.drawLog(t, this.prefs.reveal);
    }
    this.slider.value = String(t);
    this.timeText.textContent = `t = ${fmt(t)} of ${num(this.end)}`;
    if (this.panelTime) this.panelTime.textContent = ` (now t = ${fmt(t)})`;
    this.root.setAttribute("data-t", t.toFixed(4));
    if (this.pendingRun !== undefined) { this.root.setAttribute("data-run", this.pendingRun); this.pendingRun = undefined; }
  }
}

export default function (component) {
  const {data, parentElement, setStateValue, setTriggerValue} = component;
  let stage = parentElement.__sagaStage;
  if (!stage) {
    const root = document.createElement("div");
    root.className = "saga-stage";
    parentElement.appendChild(root);
    stage = parentElement.__sagaStage = new Stage(root);
  }
  stage.update(data || {}, {setStateValue, setTriggerValue});
  return () => { stage.stop(); };
}
