"""Pictures: sample grids, reconstructions, traversals, scatter plots (diagrams come later)."""
from .grids import as_images, image_grid, save_image_grid, save_scatter

__all__ = ["as_images", "image_grid", "save_image_grid", "save_scatter"]
