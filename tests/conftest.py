"""Shared test setup: the robustness count.

The property tests and fuzzers add to ``tried`` (a session-wide counter) for
every random input they feed the model; the count is printed at the end of
the session, e.g. "robustness: 1234 mutated inputs, 567 random fault plans tried".
"""
from collections import Counter

import pytest

TRIED = pytest.StashKey[Counter]()

# what each count means, in the order the summary line gives them
COUNTED = (("mutated_inputs", "mutated inputs"), ("fault_specs", "fuzzed fault specs"),
           ("fault_plans", "random fault plans"), ("runs", "simulated runs"))


def pytest_configure(config):
    config.stash[TRIED] = Counter()


@pytest.fixture(scope="session")
def tried(request):
    """A Counter the robustness tests add to: ``tried["fault_plans"] += 1``."""
    return request.config.stash[TRIED]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    counts = config.stash.get(TRIED, Counter())
    if not counts:
        return
    parts = [f"{counts[key]} {label}" for key, label in COUNTED if counts[key]]
    terminalreporter.write_line("robustness: " + ", ".join(parts) + " tried")
