"""Pictures: schematic diagrams of graphs, sample grids, reconstructions, traversals, scatter plots,
learning curves."""
from .curves import read_metrics, write_comparison, write_curves
from .diagram import diagram_spec, diagram_text, render
from .grids import as_images, image_grid, save_image_grid, save_scatter

__all__ = ["as_images", "diagram_spec", "diagram_text", "image_grid", "read_metrics", "render", "save_image_grid",
           "save_scatter", "write_comparison", "write_curves"]
