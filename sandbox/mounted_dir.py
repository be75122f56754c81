"""`MountedDir`: a container's tmpfs volume, reached by the host through one directory descriptor.

The code in the container owns everything on the volume, so the host never resolves a path it could
have laid: the directory is opened once, while the container has it mounted, and checked to be that
capped tmpfs (its size and file count, so never the host directory beneath an unmounted volume);
every later step walks from that descriptor one name at a time without following symbolic links, and
only regular files are read. A link to /etc/shadow, a FIFO, or a directory swapped for a link halfway
through a walk, read as missing files. After the container is gone the descriptor still holds the
(detached) tmpfs until `close`.
"""

import errno
import os
import stat

from sandbox.config import file_cap

DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
# What opening a name that is a link, or a path through one, raises with O_NOFOLLOW / O_DIRECTORY.
NOT_A_FILE = (errno.ELOOP, errno.ENOTDIR, errno.ENXIO)
# How deep listings go: each level holds a descriptor open while its subdirectories are walked.
MAX_DEPTH = 32


class NotMounted(OSError):
    pass


class MountedDir:
    def __init__(self, path: str, size: int, owner: tuple[int, int]):
        fd = os.open(path, DIRECTORY)
        found = os.fstatvfs(fd)
        rounding = found.f_blocks * found.f_frsize - size  # tmpfs rounds its size up to whole pages
        if found.f_files != file_cap(size) or not 0 <= rounding < found.f_frsize:
            os.close(fd)
            raise NotMounted(f"{path} is not the {size}-byte tmpfs volume it should be")
        self.fd, self.owner = fd, owner
        # The same directory under a short path: UNIX socket paths must stay under 108 bytes.
        self.path = f"/proc/self/fd/{fd}"

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _open(self, path: str, flags: int) -> int:
        """Open `path` (relative, checked to stay inside) from the root, following no link on the way."""
        *dirs, last = path.split("/")
        parent = self.fd
        try:
            for name in dirs:
                child = os.open(name, DIRECTORY, dir_fd=parent)
                if parent != self.fd:
                    os.close(parent)
                parent = child
            return os.open(last, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
        except OSError as exc:
            if exc.errno in NOT_A_FILE:
                raise FileNotFoundError(errno.ENOENT, "no such file", path) from exc
            raise
        finally:
            if parent != self.fd:
                os.close(parent)

    def read(self, path: str) -> bytes:
        fd = self._open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise FileNotFoundError(errno.ENOENT, "not a regular file", path)
            with open(fd, "rb", closefd=False) as f:
                return f.read()
        finally:
            os.close(fd)

    def create(self, name: str, data: bytes) -> None:
        """A new file `name` in the root, owned by the sandbox's user; `FileExistsError` if taken."""
        fd = self._open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            with open(fd, "wb", closefd=False) as f:
                f.write(data)
            os.fchown(fd, *self.owner)
        except OSError:
            os.unlink(name, dir_fd=self.fd)
            raise
        finally:
            os.close(fd)

    def remove(self, path: str) -> None:
        """Delete the regular file `path` (relative); a link or anything else reads as missing."""
        *dirs, last = path.split("/")
        fd = self._open("/".join(dirs), DIRECTORY) if dirs else os.dup(self.fd)
        try:
            if not stat.S_ISREG(os.stat(last, dir_fd=fd, follow_symlinks=False).st_mode):
                raise FileNotFoundError(errno.ENOENT, "not a regular file", path)
            os.unlink(last, dir_fd=fd)
        finally:
            os.close(fd)

    def files(self) -> dict[str, tuple[int, int]]:
        """Every regular file up to `MAX_DEPTH` directories down: relative path -> (mtime in ns, size)."""
        out: dict[str, tuple[int, int]] = {}
        path: list[tuple[str, int, list[str]]] = []  # (prefix, descriptor, subdirectories left) per level

        def enter(prefix: str, fd: int) -> None:
            subdirs = []
            with os.scandir(fd) as entries:
                for entry in entries:
                    try:
                        found = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:  # removed since the listing
                        continue
                    if stat.S_ISREG(found.st_mode):
                        out[prefix + entry.name] = (found.st_mtime_ns, found.st_size)
                    elif stat.S_ISDIR(found.st_mode) and len(path) < MAX_DEPTH:
                        subdirs.append(entry.name)
            path.append((prefix, fd, subdirs))

        try:
            enter("", self.fd)
            while path:
                prefix, fd, subdirs = path[-1]
                if not subdirs:
                    path.pop()
                    if fd != self.fd:
                        os.close(fd)
                    continue
                name = subdirs.pop()
                try:
                    child = os.open(name, DIRECTORY, dir_fd=fd)
                except OSError:  # gone, or swapped for something else, since the listing
                    continue
                try:
                    enter(f"{prefix}{name}/", child)
                except OSError:
                    os.close(child)
        finally:
            for _, fd, _ in path:
                if fd != self.fd:
                    os.close(fd)
        return out
