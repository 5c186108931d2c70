// Line numbers beside the scenario editor, and the line at fault marked (ui/author.py).
//
// Streamlit's text area has no gutter, and the editor's messages cite "line 20". This component draws
// nothing of its own: it finds the text area by its accessible name (data.label) in the page and lays a
// column of numbers over its left padding, scrolled with it. data.line (0: none) is the line at fault,
// marked in red. If the text area is not found, nothing happens: the editor works as before.
//
// Testing hook: the gutter carries data-gutter; its marked number carries data-bad.

const PAD = 44;   // px of the text area's left padding the numbers take

export default function ({data, parentElement}) {
  const state = (parentElement.__gutter ||= {tries: 0});
  state.label = data.label;
  state.bad = data.line || 0;
  const tick = () => {
    if (!attach(state)) {
      if (state.tries++ < 120) requestAnimationFrame(tick);   // the text area may be drawn after us
      return;
    }
    number(state);
  };
  state.tries = 0;
  tick();
  return undefined;
}

function attach(state) {
  const ta = document.querySelector(`textarea[aria-label="${CSS.escape(state.label)}"]`);
  if (!ta) return false;
  if (state.ta === ta && state.gutter && state.gutter.isConnected) return true;
  state.ta = ta;
  const host = ta.parentElement;
  if (getComputedStyle(host).position === "static") host.style.position = "relative";
  const look = getComputedStyle(ta);
  ta.style.paddingLeft = `${PAD + 6}px`;
  const gutter = document.createElement("div");
  gutter.setAttribute("data-gutter", "");
  gutter.setAttribute("aria-hidden", "true");
  Object.assign(gutter.style, {
    position: "absolute", left: `${ta.offsetLeft}px`, top: `${ta.offsetTop}px`, width: `${PAD}px`,
    height: `${ta.clientHeight}px`, overflow: "hidden", pointerEvents: "none", boxSizing: "border-box",
    paddingTop: look.paddingTop, borderTop: `${look.borderTopWidth} solid transparent`,
    font: look.font, lineHeight: look.lineHeight, color: "#9aa0ac", textAlign: "right",
    borderRight: "1px solid #e3e5ea", background: "rgba(240, 242, 246, 0.85)", zIndex: 1});
  const inner = document.createElement("div");
  inner.style.paddingRight = "6px";
  gutter.appendChild(inner);
  host.appendChild(gutter);
  state.gutter = gutter;
  state.inner = inner;
  state.count = -1;
  state.marked = -1;
  ta.addEventListener("scroll", () => { inner.style.transform = `translateY(${-ta.scrollTop}px)`; });
  ta.addEventListener("input", () => number(state));
  // the page sets the text without an input event (a new scenario, Revert): look again now and then, cheaply
  const every = setInterval(() => { if (!gutter.isConnected || state.ta !== ta) clearInterval(every); else number(state); }, 250);
  new ResizeObserver(() => { gutter.style.height = `${ta.clientHeight}px`;
    gutter.style.left = `${ta.offsetLeft}px`; gutter.style.top = `${ta.offsetTop}px`; }).observe(ta);
  return true;
}

function number(state) {
  const n = Math.max(1, state.ta.value.split("\n").length);
  if (n !== state.count || state.bad !== state.marked) {
    state.count = n;
    state.marked = state.bad;
    state.inner.replaceChildren();
    for (let i = 1; i <= n; i++) {
      const line = document.createElement("div");
      line.textContent = String(i);
      if (i === state.bad) {
        line.setAttribute("data-bad", "");
        Object.assign(line.style, {color: "#fff", background: "#D55E00", fontWeight: "700", borderRadius: "3px"});
      }
      state.inner.appendChild(line);
    }
  }
  state.inner.style.transform = `translateY(${-state.ta.scrollTop}px)`;
}
