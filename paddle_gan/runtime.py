"""Process set-up that must happen before or right at `import paddle`: CPU threads, MKL, device.

Paddle reads OMP_NUM_THREADS and MKL_DEBUG_CPU_TYPE only when it is imported. Out of the box it
runs one thread, and its MKL takes a slow code path on AMD CPUs (measured 4x on a 2048^3
matmul here), so unless the user set them we use every core this process may run on and, on
AMD, MKL's AVX2 path. Paddle's import-time chatter about those settings is not shown.

glibc hands every freed block over 128 KB back to the kernel and page-faults it in again on the
next allocation, which for Paddle's CPU tensors (a new one per layer output) made a 6 MB copy 20x
slower (3.5 ms vs 0.17 ms here): we raise its thresholds so freed tensors' memory is reused.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import io
import os
import warnings
from typing import List

from .errors import DeviceError


def _is_amd() -> bool:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return any("AuthenticAMD" in line for line in cpuinfo if line.startswith("vendor_id"))
    except OSError:
        return False


def configure_cpu_environment(environ=os.environ) -> List[str]:
    """Set threads and the MKL code path unless already set; returns what was done, for the log."""
    notes = []
    if "OMP_NUM_THREADS" not in environ:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        # paddle.distributed.launch starts PADDLE_LOCAL_SIZE processes here and leaves their
        # threads alone, and processes whose threads outnumber the cores spin-wait on each other
        local = max(1, int(environ.get("PADDLE_LOCAL_SIZE", "1") or 1))
        threads = max(1, (cores or 1) // local)
        environ["OMP_NUM_THREADS"] = str(threads)
        notes.append(f"OMP_NUM_THREADS={threads} (the cores this process may use"
                     + (f", shared by the launcher's {local} processes here)" if local > 1
                        else ")"))
    if "MKL_DEBUG_CPU_TYPE" not in environ and _is_amd():
        environ["MKL_DEBUG_CPU_TYPE"] = "5"
        notes.append("MKL_DEBUG_CPU_TYPE=5 (MKL's AVX2 path on this AMD CPU)")
    if "MALLOC_MMAP_THRESHOLD_" not in environ and keep_freed_memory():
        notes.append(f"glibc keeps freed memory for reuse (mmap threshold {MMAP_THRESHOLD >> 20} "
                     f"MB, trim threshold {TRIM_THRESHOLD >> 20} MB)")
    return notes


# mallopt parameters (malloc.h) and our values: 32 MB is the largest mmap threshold glibc accepts
# on 64-bit; freed memory up to the trim threshold stays in the process instead of going back.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD, TRIM_THRESHOLD = 32 << 20, 1 << 30


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; False where there is no glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                    and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    except (OSError, AttributeError, TypeError):
        return False


def available_memory() -> int:
    """Bytes of memory this process could still get without swapping (Linux's MemAvailable;
    elsewhere the physical memory)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: do not refuse


def rank() -> int:
    """This process's rank under paddle.distributed.launch (0 when run alone)."""
    return int(os.environ.get("PADDLE_TRAINER_ID", "0"))


def is_writer() -> bool:
    """Only rank 0 writes files: the one place that decides it."""
    return rank() == 0


def import_paddle():
    """`import paddle` without its warnings about thread settings and ccache."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No ccache found")
        with contextlib.redirect_stderr(io.StringIO()):
            import paddle
    # Paddle warns on every training-mode batch norm that it tracks running statistics; we know.
    warnings.filterwarnings("ignore", message="When training, we now always track global mean")
    return paddle


def select_device(use_gpu, gpu_id: int, launched: bool = False) -> str:
    """'gpu:N' or 'cpu'. use_gpu None means: the GPU when the build and a device are there.
    `launched` (by paddle.distributed.launch): N is the device the launcher gave this process
    (FLAGS_selected_gpus), whatever gpu_id says."""
    paddle = import_paddle()
    if launched and os.environ.get("FLAGS_selected_gpus"):
        gpu_id = int(os.environ["FLAGS_selected_gpus"].split(",")[0])
    has_cuda = paddle.device.is_compiled_with_cuda()
    if use_gpu and not has_cuda:
        raise DeviceError(
            "--use_gpu 1 asked for a GPU, but this Paddle build has no CUDA: install the GPU "
            "build (pip install paddlepaddle-gpu, see docs/install.md) or run with --use_gpu 0"
        )
    count = paddle.device.cuda.device_count() if has_cuda else 0
    if use_gpu and gpu_id >= count:
        raise DeviceError(f"--gpu_id {gpu_id} does not exist: this machine has {count} GPU(s)")
    device = f"gpu:{gpu_id}" if (use_gpu or (use_gpu is None and count > 0)) else "cpu"
    paddle.set_device(device)
    return device
