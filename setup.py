"""Install paddle_gan: `pip install -e .[cpu,test]` (or `.[gpu]` on a CUDA machine)."""
from setuptools import find_packages, setup

setup(
    name="paddle_gan",
    version="0.1.0",
    description="The PaddlePaddle v1 GAN demo on Paddle 3.x, grown into a plugin-style trainer",
    packages=find_packages(include=["paddle_gan", "paddle_gan.*"]),
    package_data={"paddle_gan.metrics": ["assets/*.npz", "assets/*.json"]},  # pinned extractor
    python_requires=">=3.9",
    install_requires=["numpy", "matplotlib", "visualdl", "pyyaml"],
    extras_require={
        "cpu": ["paddlepaddle>=3.0"],
        "gpu": ["paddlepaddle-gpu>=3.0"],
        "test": ["pytest", "ruff"],
    },
)
