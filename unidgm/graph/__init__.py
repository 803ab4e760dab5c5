"""Schematic graphs: nodes, edges, families, validation, and transforms between models."""
from .elements import Edge, Node
from .families import FAMILIES, Family, make_family
from .graph import Graph
from .transforms import activate_adversary, importance_weight, swap_processes, swap_roles

__all__ = ["Edge", "Node", "FAMILIES", "Family", "make_family", "Graph",
           "swap_processes", "swap_roles", "activate_adversary", "importance_weight"]
