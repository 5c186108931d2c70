"""The one error type users see: a sentence that says where and what is wrong."""


class SagaInputError(ValueError):
    """Bad input (a scenario file, a fault spec, a widget value).

    ``str(err)`` is the whole message, already naming the place and the
    problem, e.g. ``scenarios/x.yaml: timing.timeout: must be a number > 0, got 'abc'``.
    """

    line = None            # where in the file, when known (from 1): the editor shows that line
    column = None
    MAX_NAME = 10_000      # where: a file name, a field path, a fault spec
    MAX_REASON = 600       # what: may quote a value, which is cut short

    def __init__(self, message, source=None, field=None):
        self.source = _one_line(source, self.MAX_NAME)
        self.field = _one_line(field, self.MAX_NAME)
        self.reason = _one_line(message, self.MAX_REASON)
        parts = [p for p in (self.source, self.field) if p]
        super().__init__(": ".join(parts + [self.reason]))


def _one_line(text, limit):
    """User text goes into messages: keep it on one line (control and line-break
    characters shown escaped, like ``\\n``) and short."""
    if text is None:
        return None
    text = str(text)
    if not text.isprintable():
        text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


class ScenarioError(SagaInputError):
    """A scenario that cannot run, refused before anything runs."""


class FaultError(SagaInputError):
    """A fault spec that does not follow contract 2."""


class RunLimitError(RuntimeError):
    """A run that went past its event budget (a runaway run), stopped cleanly."""


class RunStopped(RuntimeError):
    """A run its watcher stopped (the page's Stop button), cleanly: ``str(err)`` says when (``t``: the
    simulated time). Not a RunLimitError: the run was not too big, and its end says nothing about it."""

    def __init__(self, message, t):
        super().__init__(message)
        self.t = t
