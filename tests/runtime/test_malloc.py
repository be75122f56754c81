"""The server's allocator settings: a worker thread reuses freed memory instead of faulting it in again."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# After `tune()`, a worker thread allocates, fills and frees three 16 MB blocks 20 times (as PyTorch
# does with a batch's intermediate results) and prints how many page faults that cost it.
WORKER = """
import ctypes, resource, threading
from runtime import malloc
print(malloc.tune())
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
SIZE = 16 << 20
def work():
    start = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
    for _ in range(20):
        blocks = [libc.malloc(SIZE) for _ in range(3)]
        for block in blocks:
            libc.memset(block, 1, SIZE)
        for block in blocks:
            libc.free(block)
    print(resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - start)
thread = threading.Thread(target=work)
thread.start()
thread.join()
"""


def test_after_tune_a_worker_thread_faults_freed_blocks_in_once_not_at_every_reuse():
    out = subprocess.run(  # a fresh interpreter: the settings must come before any other thread
        [sys.executable, "-c", WORKER], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    applied, faults, pages_once = out[0], int(out[1]), 3 * (16 << 20) // 4096
    assert applied == "True"  # glibc (Debian): the settings are taken
    assert faults < 2 * pages_once  # the first pass faults the blocks in; the 19 others reuse them
