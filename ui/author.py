"""The "Edit" view: write a scenario in YAML and run it; upload and download
scenarios; download a run as JSON or Mermaid; load a run file back and replay it.

Every problem is one line (the validator's own message) shown under the input
that caused it; nothing half-valid runs.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from .safe import md

from sim.narrate import mermaid

from . import lessoncheck, replay, runs, state
from .state import ss

EDITED = "edited scenario"
EDITOR_LABEL = "Scenario YAML"
# line numbers beside the text area (which has none) and the line at fault marked: a component that draws
# nothing of its own and lays the numbers over the text area's padding (ui/component/gutter.js)
GUTTER = st.components.v2.component(
    "saga_editor_gutter", js=(Path(__file__).resolve().parent / "component" / "gutter.js").read_text(encoding="utf-8"))
MAX_UPLOAD_BYTES = 1_000_000
CHEAT_SHEET = """\
**Required:** `name` (kebab-case), `customers` (`{alice: {balance: 100}}`), `stock` (`{widget: 5}`),
and `orders` (a list of `{customer, item, qty, price, at}`) or `load` (`{count: 5000, every: 0.5}`).

**Optional:** `title`, `summary`, `learning_goal`, `watch`, `source`, `style`, `seed`,
`steps` (default `[order, payment, inventory]`), `timing` (`service_time`, `network_delay`, `timeout`,
`max_retries`, `backoff`, `jitter`, `horizon`, `capacity`), `idempotent`, `faults`, `expect`.

**Faults:** `{target: payment, kind: fail, saga: 1}`; kinds `fail`, `compensation_fail`, `crash`
(`recover_after`), `slow` (`by`), `crash_before_publish` (`saga`, `recover_after`: the step commits, then the
service crashes before publishing), and for `target: broker`: `drop`, `duplicate`, `delay` (`message`, `by`).
Every fault takes `at`. `outbox: true`: services publish through a transactional outbox.
"""


def _follow_scenario(text: str) -> None:
    """Load the scenario on screen into the editor when the scenario changed (not while the user edits)."""
    tid = runs.text_id(text)
    if ss().get("_editor_for") != tid:
        ss().w_yaml = text
        ss()._editor_for = tid
        ss()._editor_text = text
    elif "w_yaml" not in ss():
        # the text area was not on screen (another view): Streamlit forgot its value, the editor does not
        ss().w_yaml = ss().get("_editor_text", text)


def _run_edit() -> None:
    text = ss().w_yaml
    scenario = runs.parse(text, EDITED)
    if isinstance(scenario, str):
        return                              # the inline error under the editor says why
    state.use_custom(text, EDITED)
    ss()._editor_for = runs.text_id(text)
    ss().view = "play"
    ss()._ran = scenario.title


def _revert(text: str) -> None:
    ss().w_yaml = text


def _clear_upload_messages() -> None:
    """A new upload on either uploader: the previous file's message goes."""
    ss()._upload_error = None
    ss()._run_file_error = None
    ss().pop("_uploaded", None)


def _wrong_kind(name: str, wanted: tuple, what: str, other: str):
    """A message when ``name`` does not end in one of ``wanted``, else None."""
    if str(name).lower().endswith(wanted):
        return None
    return f"{md(name)}: is not {what} (a {' or '.join(wanted)} file); {other}"


def _upload_scenario() -> None:
    file = ss().get("w_upload")
    _clear_upload_messages()
    if file is None:
        return
    wrong = _wrong_kind(file.name, (".yaml", ".yml"), "a scenario file",
                        "a downloaded run (.json) opens with Replay a downloaded run")
    if wrong:
        ss()._upload_error = wrong
        return
    raw = file.getvalue()
    if len(raw) > MAX_UPLOAD_BYTES:
        ss()._upload_error = f"{md(file.name)}: is {len(raw):,} bytes; a scenario file may have at most " \
                             f"{MAX_UPLOAD_BYTES:,}"
        return
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        ss()._upload_error = f"{md(file.name)}: is not UTF-8 text (a scenario is a YAML file)"
        return
    problem = runs.parse(text, file.name)
    if isinstance(problem, str):
        ss()._upload_error = problem
        return
    ss().w_yaml = text
    ss()._uploaded = file.name


def _load_run() -> None:
    file = ss().get("w_run_file")
    _clear_upload_messages()
    if file is None:
        return
    wrong = _wrong_kind(file.name, (".json",), "a downloaded run",
                        "a scenario (.yaml) opens with Open a scenario file, above")
    if wrong:
        ss()._run_file_error = wrong
        return
    result = replay.read_run_file(file.getvalue(), file.name)
    if isinstance(result, str):
        ss()._run_file_error = result
        return
    name, found = result
    ss().replay = {"file": file.name, "name": name, "runs": found,
                   "id": runs.text_id(file.getvalue().decode("utf-8", "replace"))}
    state.move_clock(0.0)
    ss().view = "play"


def view(scenario, text: str, source: str, shown: list) -> None:
    _follow_scenario(text)
    # no wrapping: one line of the file is one line on screen, so "line 20" is the 20th line shown
    st.html("<style>.stTextArea textarea {font-family: 'Source Code Pro', monospace; font-size: 15px; "
            "white-space: pre; overflow-wrap: normal; overflow-x: auto;}</style>")
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.subheader("Edit the scenario")
        st.caption(f"Starts from {source}. Change anything, then press Run; errors show here, one line each.")
        st.text_area(EDITOR_LABEL, key="w_yaml", height=460, label_visibility="collapsed")
        ss()._editor_text = ss().w_yaml
        verdict = lessoncheck.read(ss().w_yaml, EDITED)
        GUTTER(key="editor_gutter", data={"label": EDITOR_LABEL, "line": verdict.line or 0})
        checked = verdict.scenario if verdict.scenario is not None else verdict.error
        if isinstance(checked, str):
            lessoncheck.show_problem(verdict, ss().w_yaml)
        else:
            st.success(f"Valid: {md(checked.title)}, {checked.saga_count:,} saga(s), steps "
                       f"{' → '.join(checked.services)}.")
            lessoncheck.show_warnings(checked)
        c = st.columns(3)
        c[0].button("Run this scenario", key="run_edit", type="primary", on_click=_run_edit,
                    icon=":material/play_arrow:", disabled=isinstance(checked, str), width="stretch")
        c[1].download_button("Download", data=ss().w_yaml.encode("utf-8"), icon=":material/download:",
                             file_name=f"{getattr(checked, 'name', 'scenario')}.yaml", mime="text/yaml",
                             on_click="ignore", width="stretch", key="download_yaml", help="Save this YAML as a file.")
        c[2].button("Revert", key="revert_edit", icon=":material/undo:", on_click=_revert, args=(text,),
                    width="stretch", help="Throw the edits away: back to the scenario on screen.")
        if not isinstance(checked, str):
            lessoncheck.show_expectations(ss().w_yaml, EDITED, checked)
        with st.expander("The file with line numbers", icon=":material/format_list_numbered:"):
            st.code(ss().w_yaml, language="yaml", line_numbers=True)
        with st.expander("What a scenario can say"):
            st.markdown(CHEAT_SHEET)
    with right:
        st.subheader("Files")
        st.file_uploader("Open a scenario file (.yaml, at most 1 MB)", key="w_upload",
                         on_change=_upload_scenario, max_upload_size=1)
        if ss().get("_upload_error"):
            st.error(ss()._upload_error)
        elif ss().pop("_uploaded", None):
            st.success("Loaded into the editor: check it and press Run.")
        name = getattr(scenario, "name", "scenario")
        st.markdown("**Download the run on screen**")
        st.download_button("Run as JSON", data=lambda: replay.export(name, text, shown), icon=":material/download:",
                           file_name=f"{name}-run.json", mime="application/json", on_click="ignore",
                           width="stretch", key="download_json", disabled=not shown,
                           help="The runs on screen (contract 4's JSON); Replay loads it back.")
        # one file per style: each is one renderable diagram (half the column each: no label cut)
        for col, s in zip(st.columns(max(1, len(shown))), shown):
            col.download_button(f"Mermaid: {s.style}", data=lambda s=s: mermaid(s.run), icon=":material/download:",
                                file_name=f"{name}.{s.style}.mmd", mime="text/plain", on_click="ignore",
                                width="stretch", key=f"download_mermaid_{s.style}", disabled=s.run is None,
                                help=f"The {s.style} sequence diagram as Mermaid text.")
        st.file_uploader("Replay a downloaded run (.json, at most 20 MB)", key="w_run_file",
                         on_change=_load_run, max_upload_size=20)
        if ss().get("_run_file_error"):
            st.error(ss()._run_file_error)
