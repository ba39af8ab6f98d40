"""paddle_gan: the PaddlePaddle v1 GAN demo on Paddle 3.x, as a plugin-style trainer.

Nothing in this package parses argv; `paddle_gan.cli` turns flags into settings for tools/*.py.
"""

__version__ = "0.1.0"
