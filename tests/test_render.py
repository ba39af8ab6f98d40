"""Pictures: the PNG bytes a plugin publishes are the file it writes and decode to its pixels; a
grid is large enough to see and titled; a histogram with no point inside says so."""
import numpy as np

from paddle_gan.render import (
    GRID_SCALE,
    TITLE_PIXELS,
    pass_title,
    png_to_rgb,
    samples_png,
    save_samples,
)


def test_published_png_is_the_saved_file_and_decodes_to_rgb(tmp_path):
    points = np.random.default_rng(0).random((64, 2)).astype(np.float32)
    save_samples(points, tmp_path / "p.png", title="pass 3")
    assert samples_png(points, title="pass 3") == (tmp_path / "p.png").read_bytes()
    images = np.random.default_rng(1).uniform(-1, 1, (64, 1, 8, 8)).astype(np.float32)
    save_samples(images, tmp_path / "g.png", (-1.0, 1.0), pass_title(2, 40))
    png = samples_png(images, (-1.0, 1.0), pass_title(2, 40))
    assert png == (tmp_path / "g.png").read_bytes()
    assert png != samples_png(images, (-1.0, 1.0), pass_title(3, 60))  # the title is drawn
    rgb = png_to_rgb(png)
    side = 8 * 8 * GRID_SCALE
    assert rgb.shape == (side + TITLE_PIXELS, side, 3) and rgb.dtype == np.uint8
    # the first image's top-left pixel, scaled from [-1, 1] to 0..255, drawn GRID_SCALE wide
    expected = int(np.clip((images[0, 0, 0, 0] + 1) / 2, 0, 1) * 255 + 0.5)
    block = rgb[TITLE_PIXELS:TITLE_PIXELS + GRID_SCALE, :GRID_SCALE, 0].astype(int)
    assert np.abs(block - expected).max() <= 1


def test_no_point_inside_is_said_not_drawn_as_a_flat_band(tmp_path):
    outside = np.full((100, 2), 3.0, np.float32)
    inside = np.random.default_rng(0).random((100, 2)).astype(np.float32)
    for points, letters in ((outside, True), (inside, False)):
        rgb = png_to_rgb(samples_png(points))
        height, width = rgb.shape[:2]
        # The middle of the histogram: white "no point inside" letters on the empty colour,
        # none among the colours of counted cells.
        middle = rgb[int(0.45 * height):int(0.55 * height), int(0.6 * width):int(0.75 * width)]
        assert ((middle.min(axis=2) > 230).sum() > 20) == letters


def red_pixels(rgb):
    r, g, b = (rgb[:, :, i].astype(int) for i in range(3))
    return int(((r > 150) & (g < 90) & (b < 90)).sum())


def test_a_mixture_is_drawn_as_its_modes_next_to_their_counts():
    from paddle_gan.config import Settings
    from paddle_gan.metrics.two_d import true_distribution

    ring = true_distribution(Settings(data="ring"))
    points = ring.sample(1024, np.random.default_rng(0)).astype(np.float32)
    with_modes = png_to_rgb(samples_png(points, title="pass 1", distribution=ring))
    as_box = png_to_rgb(samples_png(points, title="pass 1"))
    width = with_modes.shape[1]
    # left: a red circle around each mode (no red square); right: bars, a red even-share line
    assert red_pixels(with_modes[:, : width // 2]) > 50
    assert red_pixels(with_modes[:, width // 2:]) > 50 and red_pixels(as_box[:, width // 2:]) == 0
    assert not np.array_equal(with_modes, as_box)


def test_a_panel_has_a_tile_per_run(tmp_path):
    from paddle_gan.config import Settings
    from paddle_gan.metrics.two_d import true_distribution
    from paddle_gan.render import save_panel

    grid = true_distribution(Settings(data="grid"))
    points = grid.sample(500, np.random.default_rng(0))
    images = np.zeros((64, 1, 8, 8), np.float32)
    tiles = [("grid", points, None, grid), ("uniform", points / 10, None, None),
             ("mnist", images, (-1.0, 1.0), None), ("failed", None, None, None)]
    save_panel(tiles, tmp_path / "row.png", columns=4, title="sweep")
    save_panel(tiles, tmp_path / "square.png", columns=2)
    row = png_to_rgb((tmp_path / "row.png").read_bytes())
    square = png_to_rgb((tmp_path / "square.png").read_bytes())
    assert row.shape[1] == 2 * square.shape[1] and 2 * row.shape[0] < square.shape[0] + 40
