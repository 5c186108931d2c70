"""The one error type users see: a sentence that says where and what is wrong."""


class SagaInputError(ValueError):
    """Bad input (a scenario file, a fault spec, a widget value).

    ``str(err)`` is the whole message, already naming the place and the
    problem, e.g. ``scenarios/x.yaml: timing.timeout: must be a number > 0, got 'abc'``.
    """

    def __init__(self, message, source=None, field=None):
        self.source = source
        self.field = field
        self.reason = message
        parts = [p for p in (source, field) if p]
        super().__init__(": ".join(parts + [message]))


class ScenarioError(SagaInputError):
    """A scenario that cannot run, refused before anything runs."""


class FaultError(SagaInputError):
    """A fault spec that does not follow contract 2."""


class RunLimitError(RuntimeError):
    """A run that went past its event budget (a runaway run), stopped cleanly."""
