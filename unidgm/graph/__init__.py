"""Schematic graphs: nodes, edges, families and validation. (The transforms between models,
which build networks, sit above: :mod:`unidgm.transforms`.)"""
from .elements import Edge, Node
from .families import FAMILIES, Family, make_family
from .graph import Graph

__all__ = ["Edge", "Node", "FAMILIES", "Family", "make_family", "Graph"]
