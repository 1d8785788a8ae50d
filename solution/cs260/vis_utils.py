"""Helpers to look at images and learned filters."""
from math import ceil, sqrt

import numpy as np


def visualize_grid(Xs, ubound=255.0, padding=1):
    """Tile N images (N, H, W, C) into one grid image, each rescaled to [0, ubound].

    The grid is square (ceil(sqrt(N)) cells a side) with `padding` blank pixels
    between the cells. Returns an array (grid_height, grid_width, C).
    """
    N, H, W, C = Xs.shape
    cells = int(ceil(sqrt(N)))
    grid_height = H * cells + padding * (cells - 1)
    grid_width = W * cells + padding * (cells - 1)
    grid = np.zeros((grid_height, grid_width, C))
    for k in range(N):
        row, col = divmod(k, cells)
        top, left = row * (H + padding), col * (W + padding)
        img = Xs[k]
        low, high = np.min(img), np.max(img)
        span = high - low
        scaled = ubound * (img - low) / span if span > 0 else np.zeros_like(img, dtype=float)
        grid[top:top + H, left:left + W] = scaled
    return grid
