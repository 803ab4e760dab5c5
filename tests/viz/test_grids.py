"""save_image_grid: small images upscaled by nearest neighbour, one-pixel grey separators."""
import matplotlib.image
import pytest
import torch

from unidgm.viz.grids import MIN_WIDTH, SEPARATOR, image_grid, save_image_grid, upscale_factor


def _written(tmp_path, images, nrow):
    path = save_image_grid(tmp_path / "grid.png", images, nrow=nrow)
    return torch.from_numpy(matplotlib.image.imread(path))  # (H, W, 4) RGBA floats in [0, 1]


def _cell(grid, r, col, h, w, pad=1):
    top, left = pad + r * (h + pad), pad + col * (w + pad)
    return grid[top:top + h, left:left + w]


def test_an_eight_wide_grid_of_digits_is_upscaled_to_a_readable_width(tmp_path):
    images = torch.rand(16, 1, 8, 8)
    grid = _written(tmp_path, images, nrow=8)
    assert upscale_factor(8, 8) == 4
    assert grid.shape[:2] == (2 * 8 * 4 + 3, 8 * 8 * 4 + 9) and grid.shape[1] >= MIN_WIDTH


def test_cells_are_nearest_neighbour_copies(tmp_path):
    torch.manual_seed(0)
    images = torch.randint(0, 256, (3, 1, 8, 8)).float() / 255  # exact in an 8-bit PNG
    grid = _written(tmp_path, images, nrow=8)
    f = 4
    for i in range(3):
        cell = _cell(grid, 0, i, 8 * f, 8 * f)[..., 0]
        blocks = cell.reshape(8, f, 8, f)
        corner = blocks[:, :1, :, :1]
        assert torch.equal(blocks, corner.expand(8, f, 8, f))  # each pixel a constant f x f block
        # of the pixel's grey level (the gray colour map rounds to one of 256 levels)
        assert torch.allclose(corner[:, 0, :, 0], images[i, 0], atol=1.01 / 255)


def test_separators_are_one_grey_pixel(tmp_path):
    images = torch.zeros(8, 1, 8, 8)  # black cells: every non-black pixel is a separator
    grid = _written(tmp_path, images, nrow=4)  # 4 x (8 f) + 5 >= 256: f = 8
    f = upscale_factor(8, 4)
    assert f == 8
    grey = grid[..., 0]
    lines = [c for c in range(grey.shape[1]) if bool((grey[:, c] > 0).all())]
    assert lines == [c * (8 * f + 1) for c in range(5)]  # one-pixel columns between cells
    rows = [r for r in range(grey.shape[0]) if bool((grey[r] > 0).all())]
    assert rows == [r * (8 * f + 1) for r in range(3)]
    assert abs(float(grey[0, 0]) - SEPARATOR) < 1 / 255
    assert bool((_cell(grey, 1, 3, 8 * f, 8 * f) == 0).all())


def test_mnist_grids_are_upscaled_twice_and_wide_grids_not_at_all(tmp_path):
    assert tuple(image_grid(torch.rand(64, 1, 28, 28), 8).shape) == (233, 233, 1)  # as before
    mnist = _written(tmp_path, torch.rand(64, 1, 28, 28), nrow=8)
    assert mnist.shape[:2] == (8 * 56 + 9, 8 * 56 + 9)
    wide = _written(tmp_path, torch.rand(20, 1, 32, 32), nrow=10)
    assert upscale_factor(32, 10) == 1 and wide.shape[:2] == (2 * 33 + 1, 10 * 33 + 1)


def test_colour_images_keep_their_channels(tmp_path):
    images = torch.zeros(2, 3, 8, 8)
    images[0, 0] = 1.0  # red
    images[1, 2] = 1.0  # blue
    grid = _written(tmp_path, images, nrow=2)
    f = upscale_factor(8, 2)
    assert grid.shape[:2] == (8 * f + 2, 2 * 8 * f + 3)
    assert torch.equal(_cell(grid, 0, 0, 8 * f, 8 * f)[..., :3], torch.tensor([1.0, 0, 0]).expand(8 * f, 8 * f, 3))
    assert torch.equal(_cell(grid, 0, 1, 8 * f, 8 * f)[..., :3], torch.tensor([0, 0, 1.0]).expand(8 * f, 8 * f, 3))
    assert grid[0, 0, :3].tolist() == pytest.approx([SEPARATOR] * 3, abs=1 / 255)


def test_image_grid_scale_repeats_pixels_and_not_separators():
    images = torch.arange(4.0).reshape(1, 1, 2, 2) / 4
    grid = image_grid(images, nrow=1, scale=3)[..., 0]
    assert grid.shape == (8, 8)
    assert torch.equal(grid[1:7, 1:7], images[0, 0].repeat_interleave(3, 0).repeat_interleave(3, 1))
    assert bool((grid[0] == SEPARATOR).all()) and bool((grid[:, 7] == SEPARATOR).all())
