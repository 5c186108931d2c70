"""Pointing at a lesson's mistake (issue 18): where it is, in words a teacher reads.

- :func:`yaml_problem` turns a YAML parser's complaint ("expected <block end>")
  into a plain sentence about the line ("this line is indented more than the
  one above it").
- :func:`locate` finds the line and column of a field path (``orders[1].customer``)
  in the file's text, so a validator's message can show the line at fault.
- :func:`suggest` finds a known name one or two letters away from a typo
  (``paymnet`` -> ``payment``): the "did you mean" of messages and warnings.
"""
from __future__ import annotations

import re

import yaml

_INDEX = re.compile(r"\[(\d+)\]")


# ---------------------------------------------------------------- did you mean

def distance(a: str, b: str, limit: int = 3) -> int:
    """Edits (insert, delete, change, swap two neighbours) from ``a`` to ``b``; ``limit`` when more."""
    if abs(len(a) - len(b)) >= limit:
        return limit
    prev2, prev = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return min(prev[-1], limit)


def suggest(name, known) -> str | None:
    """The known name one or two letters from ``name`` (one for names of four letters or fewer), or None."""
    if not isinstance(name, str) or not name:
        return None
    best, best_d = None, 3
    for k in known:
        if not isinstance(k, str) or k == name:
            continue
        d = distance(name.lower(), k.lower())
        allowed = 1 if min(len(name), len(k)) <= 4 else 2
        if d <= allowed and d < best_d:
            best, best_d = k, d
    return best


def did_you_mean(name, known) -> str:
    """``"; did you mean 'payment'?"`` or ``""``."""
    s = suggest(name, known)
    return f"; did you mean {s!r}?" if s else ""


# ---------------------------------------------------------------- where a field is

def _path(field: str) -> list:
    parts = []
    for piece in field.split("."):
        head = _INDEX.split(piece)
        if head[0]:
            parts.append(head[0])
        parts.extend(int(x) for x in head[1:] if x)
    return parts


def locate(text: str, field: str | None):
    """(line, column), both from 1, of the deepest part of ``field`` found in ``text``; or None.

    A key's own line is given for a field that is a key (an unknown field), else its value's.
    """
    if not field or not isinstance(text, str):
        return None
    try:
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except Exception:   # noqa: BLE001 - a file that does not parse has no fields to point at
        return None
    best = None
    for part in _path(field):
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if str(k.value) == str(part) or str(k.value).strip("'\"") == str(part).strip("'\""):
                    best = k.start_mark
                    node = v
                    if not isinstance(v, (yaml.MappingNode, yaml.SequenceNode)):
                        best = v.start_mark if v.start_mark.line == k.start_mark.line else k.start_mark
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            best = node.start_mark
        else:
            break
    if best is None:
        return None
    return best.line + 1, best.column + 1


# ---------------------------------------------------------------- YAML in plain words

def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _previous(lines, k):
    """The index of the last non-blank, non-comment line before line index ``k``, or None."""
    for i in range(k - 1, -1, -1):
        s = lines[i].strip()
        if s and not s.startswith("#"):
            return i
    return None


def yaml_problem(text: str, line: int, column: int, problem: str):
    """(line, column, sentence) for a YAML error at ``line``/``column`` (from 1)."""
    lines = text.split("\n")
    k = min(max(line - 1, 0), max(len(lines) - 1, 0))
    here = lines[k] if lines else ""
    problem = problem or ""
    for i in range(0, k + 1):
        lead = lines[i][:len(lines[i]) - len(lines[i].lstrip(" \t"))]
        if "\t" in lead:
            return i + 1, lead.index("\t") + 1, ("this line is indented with a tab; YAML indents with "
                                                 "spaces only")
    if "end of stream" in problem:
        opened = _unclosed_quote(lines)
        if opened is not None:
            return opened[0] + 1, opened[1] + 1, ("a quoted text starts here and is never closed: the "
                                                  "closing quote is missing")
        return line, column, "the file ends in the middle of something: a quote, [ or { is never closed"
    if "expected ',' or '}'" in problem or "expected ',' or ']'" in problem:
        closer = "}" if "}" in problem else "]"
        opener = "{" if closer == "}" else "["
        at = _unclosed(lines, k, opener, closer)
        if at is not None:
            return at + 1, None, (f"the {opener} on this line is never closed: a {closer} is missing at "
                                  "its end (or a comma between its entries)")
        return line, column, f"a {closer} or a comma is missing before this point"
    if "could not find expected ':'" in problem:
        p = _previous(lines, k + 1 if ":" not in here else k)
        if p is not None and ":" not in lines[p]:
            return p + 1, None, "this line has no colon: a field is written like  name: value"
        return line, column, "a colon is missing: a field is written like  name: value"
    if "undefined alias" in problem:
        return line, column, "a value cannot start with * (YAML reads it as a reference); put it in quotes"
    if "cannot start any token" in problem:
        c = here[column - 1] if 0 < column <= len(here) else "?"
        return line, column, f"a value cannot start with {c}; put the whole value in quotes"
    if "mapping values are not allowed" in problem:
        key, sep, value = here.partition(": ")
        if sep and ": " in value + " " and ":" in value:
            return line, column, ("this value contains a colon followed by a space; put the whole value "
                                  "in quotes, like  summary: \"Note: ...\"")
    p = _previous(lines, k)
    stripped = here.strip()
    if p is not None and stripped:
        prev_indent, my_indent = _indent(lines[p]), _indent(here)
        prev_opens = lines[p].rstrip().endswith(":") or lines[p].rstrip().endswith(": |") \
            or lines[p].rstrip().endswith(": >-")
        if my_indent > prev_indent and not prev_opens and not stripped.startswith("- "):
            return line, None, "this line is indented more than the one above it"
        if stripped.startswith("-") and "'-' indicator" in problem:
            return line, None, "this list item is indented differently from the items above it"
        if my_indent < prev_indent:
            levels, i = [prev_indent], p          # the indentation of the fields this line could belong with
            while i is not None and levels[-1] > 0:
                i = _previous(lines, i)
                if i is not None and _indent(lines[i]) < levels[-1]:
                    levels.append(_indent(lines[i]))
            if my_indent not in levels:
                return line, None, (f"this line is indented by {my_indent} spaces, which lines up with no "
                                    "line above it; line it up with the fields it belongs with")
    quoted = re.match(r"\s*[^:#]+:\s*(['\"])", here)
    if quoted and "expected key" in problem:
        q = quoted.group(1)
        return line, column, (f"the text in {q}...{q} ends before the line does; quote it with the other "
                              "kind of quote" + (" (or write '' for a ' inside)" if q == "'" else ""))
    if "expected key" in problem or "block end" in problem:
        return line, column, "YAML did not expect this here: check this line's indentation and the line above"
    return line, column, f"YAML cannot read this ({problem})"


def _unclosed_quote(lines):
    for i, ln in enumerate(lines):
        m = re.match(r"\s*(-\s+)?[^:#'\"]*:\s*(['\"])", ln)
        if m:
            q = m.group(2)
            rest = ln[m.end():]
            if q not in rest:
                return i, m.end() - 1
    return None


def _unclosed(lines, k, opener, closer):
    """The last line up to index ``k`` whose ``opener`` count exceeds its ``closer`` count."""
    for i in range(k, -1, -1):
        s = lines[i].split(" #")[0]
        if s.count(opener) > s.count(closer):
            return i
    return None


def excerpt(text: str, line: int, column: int | None = None, around: int = 2) -> str:
    """The lines around ``line`` with their numbers, the line at fault marked ``>``, and a caret
    under ``column`` when it is known: plain text, for a code block."""
    lines = text.split("\n")
    if not lines or not 1 <= line <= len(lines):
        return ""
    lo, hi = max(1, line - around), min(len(lines), line + around)
    width = len(str(hi))
    out = []
    for n in range(lo, hi + 1):
        body = lines[n - 1].replace("\t", "→")
        if len(body) > 160:
            body = body[:160] + "…"
        out.append(f"{'>' if n == line else ' '} {n:>{width}} | {body}")
        if n == line and column:
            out.append(f"  {' ' * width} | {' ' * (column - 1)}^")
    return "\n".join(out)
