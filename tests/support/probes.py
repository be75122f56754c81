"""Code that tests run inside a kernel to read what the sandbox gave it."""

# The kernel's memory limit as its cgroup states it (cgroup v2, else v1).
MEMORY_CODE = (
    "import os; v2 = '/sys/fs/cgroup/memory.max'; "
    "print(open(v2 if os.path.exists(v2) else '/sys/fs/cgroup/memory/memory.limit_in_bytes').read())"
)
