"""paddle_gan: the PaddlePaddle v1 GAN demo on Paddle 3.x, as a plugin-style trainer.

Only `paddle_gan.cli` parses argv: it is the `paddle-gan` command (and `python -m paddle_gan`),
which `tools/*.py` also call. The version here is the package's one version (pyproject.toml
reads it).
"""

__version__ = "0.2.0"
