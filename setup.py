"""Install paddle_gan: `pip install -e ".[cpu,test]"` (or `.[gpu]` on a CUDA machine); the
metadata is in pyproject.toml.

Supported Paddle: 2.6.2 and 3.x (tested on 2.6.2 and 3.3.1; paddle_gan/compat.py says where they
differ). What this file adds: the wheel carries the repository's top-level conf/ (conf modules,
run configs, sweeps), data/ (the data scripts) and the benchmark's baselines in tools/ as
paddle_gan/builtin/, so an installed paddle-gan finds them outside a checkout
(paddle_gan.config.RESOURCES).
"""
import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# what ships, by folder: the repository's own files only (never downloaded data)
BUILTIN = {"conf": ["*.py", "*.yaml", "sweeps/*.yaml"], "data": ["*.sh", "*.py"],
           "tools": ["benchmark_plain.py", "benchmark_torch.py"]}


class BuildWithBuiltins(build_py):
    def run(self):
        super().run()
        for folder, patterns in BUILTIN.items():
            for pattern in patterns:
                for source in sorted((HERE / folder).glob(pattern)):
                    target = Path(self.build_lib, "paddle_gan", "builtin", folder,
                                  source.relative_to(HERE / folder))
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, target)


setup(
    packages=find_packages(include=["paddle_gan", "paddle_gan.*"]),
    package_data={"paddle_gan.metrics": ["assets/*.npz", "assets/*.json"]},  # pinned extractor
    cmdclass={"build_py": BuildWithBuiltins},
)
