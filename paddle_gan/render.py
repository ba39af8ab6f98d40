"""Pictures of generated samples: an 8x8 image grid (a conditional run's: a row per class), or
for 2-D points a scatter over the true distribution's support (the uniform box, or a circle of 3
sigma around each mode of a mixture) next to a 2-D histogram (box) or the high-quality samples of
each mode (mixture); each titled (the pass and step they show).

Shared by the `samples` plugin and tools/generate.py, so a regenerated picture is byte for byte
the one the run logged. Matplotlib's Agg backend with no timestamp in the PNG keeps the bytes a
function of the data alone.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import IO, Union

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

PNG_METADATA = {"Software": None}
GRID_SCALE = 3  # screen pixels per image pixel: an 8x8 grid of MNIST digits is 672 pixels wide
TITLE_PIXELS = 30
# Where a picture is written: a file, or a buffer (`samples_png`)
Destination = Union[Path, IO[bytes]]


def pass_title(pass_id: int, global_step: int, conditional: bool = False) -> str:
    """The title of a pass's picture (the `samples` plugin's, and generate.py's copy of it)."""
    return f"pass {pass_id}, step {global_step}" + ("; row c: class c" if conditional else "")



def grid_columns(count: int, num_classes: int = 0) -> int:
    """8 (an 8x8 grid), or for a conditional run's fixed noise one row per class."""
    return count // num_classes if num_classes else 8


def image_grid(images: np.ndarray, pixel_range=(-1.0, 1.0), columns: int = 8) -> np.ndarray:
    """[N, C, H, W] in pixel_range -> one uint8 [rows*H, columns*W, C] picture."""
    low, high = pixel_range
    images = np.clip((images - low) / (high - low), 0.0, 1.0)
    n, c, h, w = images.shape
    rows = -(-n // columns)
    grid = np.zeros((rows * h, columns * w, c), dtype=np.float32)
    for i, img in enumerate(images):
        r, col = divmod(i, columns)
        grid[r * h : (r + 1) * h, col * w : (col + 1) * w] = img.transpose(1, 2, 0)
    return (grid * 255 + 0.5).astype(np.uint8)


def save_image_grid(images: np.ndarray, path: Destination, pixel_range=(-1.0, 1.0),
                    title: str = "", columns: int = 8) -> None:
    """The grid, each image pixel drawn GRID_SCALE screen pixels wide, under its title."""
    grid = image_grid(images, pixel_range, columns)
    height, width = grid.shape[0] * GRID_SCALE, grid.shape[1] * GRID_SCALE
    dpi = 100
    fig = plt.figure(figsize=(width / dpi, (height + TITLE_PIXELS) / dpi), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, height / (height + TITLE_PIXELS)))
    if grid.shape[2] == 1:
        ax.imshow(grid[:, :, 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    else:
        ax.imshow(grid, interpolation="nearest")
    ax.set_axis_off()
    fig.text(0.5, 1 - 0.5 * TITLE_PIXELS / (height + TITLE_PIXELS), title, ha="center",
             va="center", fontsize=12)
    fig.savefig(path, dpi=dpi, metadata=PNG_METADATA)
    plt.close(fig)


def _view(points: np.ndarray, low, high, margin: float):
    """The support's box widened by `margin` of its size, and further to hold all but stray
    points however far the generator drifts."""
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    pad = margin * (high - low).max()
    lo, hi = low.min() - pad, high.max() + pad
    finite = points[np.isfinite(points).all(axis=1)]
    if len(finite):
        lo = min(lo, *np.percentile(finite, 1, axis=0))
        hi = max(hi, *np.percentile(finite, 99, axis=0))
    return lo, hi


def _scatter(ax, points: np.ndarray, dist, size: float = 4) -> None:
    """The points over the true support: red, the box, or a circle of HIGH_QUALITY_SIGMAS
    standard deviations around each mode of a mixture."""
    from .metrics.two_d import HIGH_QUALITY_SIGMAS, GaussianMixture2D

    ax.scatter(points[:, 0], points[:, 1], s=size, alpha=0.6)
    mixture = isinstance(dist, GaussianMixture2D)
    if mixture:
        for mx, my in dist.means:
            ax.add_patch(plt.Circle((mx, my), HIGH_QUALITY_SIGMAS * dist.sigma, fill=False,
                                    color="tab:red", lw=1))
    else:
        low, high = dist.low, dist.high
        ax.add_patch(plt.Rectangle(low, high[0] - low[0], high[1] - low[1], fill=False,
                                   color="tab:red", lw=1.5))
    lo, hi = _view(points, dist.low, dist.high, 0.25 if mixture else 0.5)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")


def _box_panels(points, dist, ax_scatter, ax_hist, bins: int) -> None:
    low, high = dist.low, dist.high
    ax_scatter.set_title("generated points; red: true support")
    box = [[low[0], high[0]], [low[1], high[1]]]
    finite = points[np.isfinite(points).all(axis=1)]
    inside = np.histogram2d(finite[:, 0], finite[:, 1], bins=bins, range=box)[0]
    # vmax of at least 1: with no point inside, the colour bar still reads 0, not a flat band
    _, _, _, mesh = ax_hist.hist2d(finite[:, 0], finite[:, 1], bins=bins, range=box,
                                   cmap="viridis", vmin=0, vmax=max(1.0, float(inside.max())))
    ax_hist.figure.colorbar(mesh, ax=ax_hist)
    if not inside.any():
        ax_hist.text(0.5, 0.5, "no point inside", ha="center", va="center", color="white",
                     transform=ax_hist.transAxes)
    ax_hist.set_aspect("equal")
    ax_hist.set_title(f"counts in the box (uniform: {len(points) / bins**2:.1f} a cell)")


def _mode_panels(points, dist, ax_scatter, ax_bars) -> None:
    from .metrics.two_d import HIGH_QUALITY_SIGMAS, mode_metrics

    ax_scatter.set_title(f"generated points; red: {HIGH_QUALITY_SIGMAS:g} sigma around each mode")
    found = mode_metrics(points, dist)
    counts, k = found["mode_counts"], len(dist.means)
    ax_bars.bar(np.arange(k), counts, color="tab:blue")
    ax_bars.axhline(len(points) / k, color="tab:red", lw=1)
    ax_bars.set_xlabel("mode (red: an even share)")
    ax_bars.set_title(f"high-quality points per mode: {found['modes']}/{k} modes, "
                      f"{found['high_quality']:.1%}")


def save_points(points: np.ndarray, path: Destination, title: str = "", distribution=None,
                bins: int = 10) -> None:
    """Scatter over the true distribution's support (default: v1's unit square) next to a 2-D
    histogram on a bins x bins grid of its box, or for a mixture its high-quality counts per
    mode."""
    from .metrics.two_d import GaussianMixture2D, Uniform2D

    dist = distribution or Uniform2D()
    fig, (ax_scatter, ax_right) = plt.subplots(1, 2, figsize=(10, 4.6), layout="constrained")
    _scatter(ax_scatter, points, dist)
    if isinstance(dist, GaussianMixture2D):
        _mode_panels(points, dist, ax_scatter, ax_right)
    else:
        _box_panels(points, dist, ax_scatter, ax_right, bins)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=80, metadata=PNG_METADATA)
    plt.close(fig)


def save_samples(samples: np.ndarray, path: Destination, pixel_range=None, title: str = "",
                 distribution=None, columns: int = 8) -> None:
    """Images as a grid of `columns`, 2-D points as a scatter + histogram (`distribution`: their
    true one)."""
    if samples.ndim == 4:
        save_image_grid(samples, path, pixel_range or (-1.0, 1.0), title, columns)
    else:
        save_points(samples, path, title, distribution)


def save_panel(tiles: list, path: Path, columns: int, title: str = "") -> None:
    """One picture of many runs' samples, a tile each, `columns` a row: `tiles` holds (caption,
    samples or None, pixel_range, distribution); images become a grid, points a scatter over
    their true support, None says there is nothing to show."""
    from .metrics.two_d import Uniform2D

    columns = max(1, min(columns, len(tiles)))
    rows = -(-len(tiles) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 3.6 * rows), squeeze=False,
                             layout="constrained")
    for ax in axes.flat[len(tiles):]:
        ax.set_axis_off()
    for ax, (caption, samples, pixel_range, dist) in zip(axes.flat, tiles):
        if samples is None:
            ax.text(0.5, 0.5, "no samples", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
        elif samples.ndim == 4:
            grid = image_grid(samples, pixel_range or (-1.0, 1.0))
            ax.imshow(grid[:, :, 0] if grid.shape[2] == 1 else grid, cmap="gray",
                      interpolation="nearest")
            ax.set_axis_off()
        else:
            _scatter(ax, samples, dist or Uniform2D(), size=2)
            ax.tick_params(labelsize=7)
        ax.set_title(caption, fontsize=8)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=80, metadata=PNG_METADATA)
    plt.close(fig)


def png_to_rgb(png: bytes) -> np.ndarray:
    """PNG bytes as a uint8 [H, W, 3] RGB array, e.g. for a dashboard."""
    picture = plt.imread(io.BytesIO(png), format="png")
    if picture.dtype != np.uint8:
        picture = (picture * 255 + 0.5).astype(np.uint8)
    if picture.ndim == 2:
        picture = np.stack([picture] * 3, axis=2)
    return np.ascontiguousarray(picture[:, :, :3])


def samples_png(samples: np.ndarray, pixel_range=None, title: str = "",
                distribution=None, columns: int = 8) -> bytes:
    """The PNG bytes `save_samples` writes."""
    buffer = io.BytesIO()
    save_samples(samples, buffer, pixel_range, title, distribution, columns)
    return buffer.getvalue()
