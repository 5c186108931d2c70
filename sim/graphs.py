"""The few networkx calls the model makes, answered without importing networkx until a cycle is found.

Importing networkx takes ~0.1 s, half of a one-saga ``sim run``, and a run
uses it only to report a cycle (choreography subscriptions that wait for each
other, a semantic-lock deadlock). So this module offers the same names
(``DiGraph``, ``has_path``, ``find_cycle``, ``simple_cycles``,
``NetworkXNoCycle``), answers the questions that need no cycle itself (is
there a path, which nodes follow one, is there any cycle at all), and hands
the graph to networkx only when a cycle exists: the cycle reported is then
networkx's own, edge for edge, as before.

``DiGraph`` keeps nodes and each node's successors in insertion order, as
networkx does, and its copy for networkx (``to_networkx``) adds them in that
order, so networkx walks it the same way.
"""
from __future__ import annotations

from collections import deque


class NetworkXNoCycle(Exception):
    """No cycle in the graph (networkx's exception of the same name, for ``find_cycle``)."""


class NetworkXError(Exception):
    """A node or edge that is not in the graph (as networkx raises it)."""


class DiGraph:
    """A directed graph with the part of networkx's ``DiGraph`` API the model uses."""

    __slots__ = ("_succ", "_pred")

    def __init__(self):
        self._succ = {}         # node -> {successor: None}, both in insertion order
        self._pred = {}         # node -> {predecessor: None}

    def __contains__(self, n):
        return n in self._succ

    def __len__(self):
        return len(self._succ)

    def __iter__(self):
        return iter(self._succ)

    def add_node(self, n):
        if n not in self._succ:
            self._succ[n] = {}
            self._pred[n] = {}

    def add_edge(self, u, v):
        self.add_node(u)
        self.add_node(v)
        self._succ[u][v] = None
        self._pred[v][u] = None

    def add_edges_from(self, edges):
        for u, v in edges:
            self.add_edge(u, v)

    def has_node(self, n):
        return n in self._succ

    def has_edge(self, u, v):
        return u in self._succ and v in self._succ[u]

    def successors(self, n):
        try:
            return iter(self._succ[n])
        except KeyError:
            raise NetworkXError(f"The node {n} is not in the digraph.") from None

    def out_edges(self, n):
        """The edges out of ``n``, as (n, successor) pairs (networkx gives a view; the model lists it)."""
        return [(n, v) for v in self._succ.get(n, ())]

    def number_of_edges(self) -> int:
        return sum(len(v) for v in self._succ.values())

    def edges(self):
        return [(u, v) for u, nbrs in self._succ.items() for v in nbrs]

    def remove_edge(self, u, v):
        try:
            del self._succ[u][v]
            del self._pred[v][u]
        except KeyError:
            raise NetworkXError(f"The edge {u}-{v} not in graph.") from None

    def remove_edges_from(self, edges):
        """Remove each edge that is there; the others are ignored (as in networkx)."""
        for u, v in edges:
            if self.has_edge(u, v):
                self.remove_edge(u, v)

    def remove_node(self, n):
        try:
            succ = self._succ.pop(n)
        except KeyError:
            raise NetworkXError(f"The node {n} is not in the digraph.") from None
        for v in succ:
            del self._pred[v][n]
        for u in self._pred.pop(n):
            del self._succ[u][n]

    def to_networkx(self):
        """The same graph as a ``networkx.DiGraph``: nodes, then each node's edges, in this graph's order."""
        import networkx
        g = networkx.DiGraph()
        g.add_nodes_from(self._succ)
        g.add_edges_from(self.edges())
        return g


def has_cycle(g: DiGraph) -> bool:
    """Whether ``g`` has a cycle (a self-loop included): Kahn's algorithm, linear in the graph's size."""
    indegree = {n: len(p) for n, p in g._pred.items()}
    ready = [n for n, d in indegree.items() if d == 0]
    removed = 0
    while ready:
        n = ready.pop()
        removed += 1
        for v in g._succ[n]:
            indegree[v] -= 1
            if indegree[v] == 0:
                ready.append(v)
    return removed < len(indegree)


def has_path(g: DiGraph, source, target) -> bool:
    """Whether a path leads from ``source`` to ``target`` (True when they are the same node)."""
    if source not in g or target not in g:
        import networkx                       # networkx's own error, word for word
        return networkx.has_path(g.to_networkx(), source, target)
    if source == target:
        return True
    seen = {source}
    todo = deque((source,))
    succ = g._succ
    while todo:
        for v in succ[todo.popleft()]:
            if v == target:
                return True
            if v not in seen:
                seen.add(v)
                todo.append(v)
    return False


def find_cycle(g: DiGraph, source=None):
    """networkx's ``find_cycle(g, source)``: a list of edges (u, v) that make a cycle.

    Raises NetworkXNoCycle when the graph has none (without importing networkx)."""
    if source is None or source in g:
        if not has_cycle(g):
            raise NetworkXNoCycle("No cycle found.")
    import networkx
    try:
        return networkx.find_cycle(g.to_networkx(), source)
    except networkx.NetworkXNoCycle as e:
        raise NetworkXNoCycle(str(e)) from None


def simple_cycles(g: DiGraph):
    """networkx's ``simple_cycles(g)``: every elementary cycle, as a list of nodes."""
    if not has_cycle(g):
        return iter(())
    import networkx
    return networkx.simple_cycles(g.to_networkx())
