"""Pictures of generated samples: an 8x8 image grid (a conditional run's: a row per class), or a
scatter + 2-D histogram of points, each titled (the pass and step they show).

Shared by the `samples` plugin and tools/generate.py, so a regenerated picture is byte for byte
the one the run logged. Matplotlib's Agg backend with no timestamp in the PNG keeps the bytes a
function of the data alone.
"""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

PNG_METADATA = {"Software": None}
GRID_SCALE = 3  # screen pixels per image pixel: an 8x8 grid of MNIST digits is 672 pixels wide
TITLE_PIXELS = 30


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


def save_image_grid(images: np.ndarray, path: Path, pixel_range=(-1.0, 1.0),
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


def save_points(points: np.ndarray, path: Path, title: str = "", bins: int = 10) -> None:
    """Scatter over the true [0,1]^2 square next to a 2-D histogram on a bins x bins grid."""
    fig, (ax_scatter, ax_hist) = plt.subplots(1, 2, figsize=(10, 4.6), layout="constrained")
    ax_scatter.add_patch(plt.Rectangle((0, 0), 1, 1, fill=False, color="tab:red", lw=1.5))
    ax_scatter.scatter(points[:, 0], points[:, 1], s=4, alpha=0.6)
    # Show the square with a margin, widened to hold all but stray points however far G drifts.
    finite = points[np.isfinite(points).all(axis=1)]
    low = min(-0.5, *np.percentile(finite, 1, axis=0)) if len(finite) else -0.5
    high = max(1.5, *np.percentile(finite, 99, axis=0)) if len(finite) else 1.5
    ax_scatter.set_xlim(low, high)
    ax_scatter.set_ylim(low, high)
    ax_scatter.set_aspect("equal")
    ax_scatter.set_title("generated points; red: true support")
    inside = np.histogram2d(finite[:, 0], finite[:, 1], bins=bins, range=[[0, 1], [0, 1]])[0]
    # vmax of at least 1: with no point inside, the colour bar still reads 0, not a flat band
    _, _, _, mesh = ax_hist.hist2d(
        finite[:, 0], finite[:, 1], bins=bins, range=[[0, 1], [0, 1]], cmap="viridis",
        vmin=0, vmax=max(1.0, float(inside.max()))
    )
    fig.colorbar(mesh, ax=ax_hist)
    if not inside.any():
        ax_hist.text(0.5, 0.5, "no point inside", ha="center", va="center", color="white",
                     transform=ax_hist.transAxes)
    ax_hist.set_aspect("equal")
    ax_hist.set_title(f"counts in [0,1]^2 (uniform: {len(points) / bins**2:.1f} a cell)")
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=80, metadata=PNG_METADATA)
    plt.close(fig)


def save_samples(samples: np.ndarray, path: Path, pixel_range=None, title: str = "",
                 columns: int = 8) -> None:
    """Images as a grid of `columns`, 2-D points as a scatter + histogram."""
    if samples.ndim == 4:
        save_image_grid(samples, path, pixel_range or (-1.0, 1.0), title, columns)
    else:
        save_points(samples, path, title)


def png_to_rgb(png: bytes) -> np.ndarray:
    """PNG bytes as a uint8 [H, W, 3] RGB array, e.g. for a dashboard."""
    picture = plt.imread(io.BytesIO(png), format="png")
    if picture.dtype != np.uint8:
        picture = (picture * 255 + 0.5).astype(np.uint8)
    if picture.ndim == 2:
        picture = np.stack([picture] * 3, axis=2)
    return np.ascontiguousarray(picture[:, :, :3])


def samples_png(samples: np.ndarray, pixel_range=None, title: str = "",
                columns: int = 8) -> bytes:
    """The PNG bytes `save_samples` writes."""
    buffer = io.BytesIO()
    save_samples(samples, buffer, pixel_range, title, columns)
    return buffer.getvalue()
