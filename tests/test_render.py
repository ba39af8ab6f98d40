"""Pictures: the PNG bytes a plugin publishes are the file it writes, and decode to its pixels."""
import numpy as np

from paddle_gan.render import png_to_rgb, samples_png, save_samples


def test_published_png_is_the_saved_file_and_decodes_to_rgb(tmp_path):
    points = np.random.default_rng(0).random((64, 2)).astype(np.float32)
    save_samples(points, tmp_path / "p.png", title="pass 3")
    assert samples_png(points, title="pass 3") == (tmp_path / "p.png").read_bytes()
    images = np.random.default_rng(1).uniform(-1, 1, (64, 1, 8, 8)).astype(np.float32)
    save_samples(images, tmp_path / "g.png", (-1.0, 1.0))
    png = samples_png(images, (-1.0, 1.0), title="ignored for images")
    assert png == (tmp_path / "g.png").read_bytes()
    rgb = png_to_rgb(png)
    assert rgb.shape == (8 * 8, 8 * 8, 3) and rgb.dtype == np.uint8
    # grey levels: the first image's top-left pixel, scaled from [-1, 1] to 0..255
    expected = int(np.clip((images[0, 0, 0, 0] + 1) / 2, 0, 1) * 255 + 0.5)
    assert abs(int(rgb[0, 0, 0]) - expected) <= 1
