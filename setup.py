"""Install paddle_gan: `pip install -e .[cpu,test]` (or `.[gpu]` on a CUDA machine).

Supported Paddle: 2.6.2 and 3.x (tested on 2.6.2 and 3.3.1; paddle_gan/compat.py says where they
differ)."""
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
        # A fresh install gets the newest 3.x; a Paddle 2.6.2 already installed is kept.
        "cpu": ["paddlepaddle>=2.6.2,<4"],
        # The newest CUDA build the public index serves is 2.6.2; Paddle's own index serves
        # 3.x (README: "Paddle versions and GPUs"). Both are supported.
        "gpu": ["paddlepaddle-gpu>=2.6.2,<4"],
        "test": ["pytest", "ruff"],
        # s3://, webhdfs:// (and hdfs:// with pyarrow and Hadoop's libhdfs, not installed here:
        # README, Data and outputs on shared storage). No boto3: s3fs pins its own botocore.
        "remote": ["fsspec", "s3fs"],
    },
)
