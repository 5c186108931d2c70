"""The saga model: a pure, deterministic SimPy simulation of a saga in two styles.

    from sim import load_scenario, run
    sc = load_scenario("scenarios/payment-declined.yaml")
    result = run(sc, "orchestration", faults=["payment:fail:saga=1"])
    result.to_dict()   # the run object of contract 4

Imports simpy, yaml and the standard library; networkx only when there is a cycle to report
(``sim/graphs.py``); never a UI.
"""
from .errors import FaultError, RunLimitError, RunStopped, SagaInputError, ScenarioError
from .explore import explore
from .faults import Fault, fault_from_mapping, parse_fault
from .library import SCENARIO_DIR, list_scenarios
from .run import Run, run
from .scenario import STYLES, Scenario, load_scenario, parse_scenario

__all__ = ["Fault", "FaultError", "Run", "RunLimitError", "RunStopped", "SagaInputError", "Scenario", "ScenarioError",
           "SCENARIO_DIR", "STYLES", "explore", "fault_from_mapping", "list_scenarios", "load_scenario",
           "parse_fault", "parse_scenario", "run"]
