"""Builds the kernel image without any registry: a debootstrapped Debian base imported into Docker,
wheels downloaded on the host, and `kernel.Dockerfile` on top. The tag is a hash of the recipe, so
a second build with nothing changed is a no-op."""

import hashlib
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors

HERE = Path(__file__).parent
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = "python3,python3-venv"
REPOSITORY = "assistd-kernel"
LABEL = "assistd.image"

Progress = Callable[[str], None]


class ImageBuildError(Exception):
    """The kernel image could not be built; the message says which step failed."""


def recipe_hash() -> str:
    digest = hashlib.sha256()
    for part in (
        SUITE,
        MIRROR,
        BASE_PACKAGES,
        (HERE / "kernel.Dockerfile").read_text(),
        (HERE / "requirements.txt").read_text(),
    ):
        digest.update(part.encode())
    return digest.hexdigest()[:12]


def image_tag() -> str:
    return f"{REPOSITORY}:{recipe_hash()}"


def _run(cmd: list[str], step: str) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise ImageBuildError(f"{step} failed ({' '.join(cmd[:3])}...): {result.stderr.strip()[-2000:]}")


def _base_image(client: docker.DockerClient, cache: Path, progress: Progress) -> str:
    tag = f"assistd-base:{SUITE}-{hashlib.sha256(BASE_PACKAGES.encode()).hexdigest()[:8]}"
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    tarball = cache / f"rootfs-{tag.split(':')[1]}.tar"
    if not tarball.exists():
        if shutil.which("debootstrap") is None:
            raise ImageBuildError("debootstrap is not installed (apt-get install debootstrap)")
        rootfs = cache / "rootfs"
        shutil.rmtree(rootfs, ignore_errors=True)
        progress(f"debootstrap {SUITE} (minbase + {BASE_PACKAGES}) into {rootfs}")
        _run(
            ["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", SUITE, str(rootfs), MIRROR],
            "debootstrap",
        )
        progress("packing the base filesystem")
        partial = tarball.with_suffix(".partial")
        with tarfile.open(partial, "w") as tar:
            tar.add(rootfs, arcname=".")
        partial.rename(tarball)
        shutil.rmtree(rootfs, ignore_errors=True)
    progress(f"importing the base filesystem as {tag}")
    client.api.import_image_from_file(str(tarball), repository=tag.split(":")[0], tag=tag.split(":")[1])
    return tag


def _wheels(cache: Path, progress: Progress) -> Path:
    target = cache / f"wheels-{recipe_hash()}"
    if (target / ".complete").exists():
        return target
    progress("downloading wheels for Python 3.11 on the host")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--only-binary=:all:",
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "--abi",
            "cp311",
            "--platform",
            "manylinux2014_x86_64",
            "--platform",
            "manylinux_2_17_x86_64",
            "--platform",
            "manylinux_2_28_x86_64",
            "--platform",
            "any",
            "-d",
            str(target),
            "-r",
            str(HERE / "requirements.txt"),
        ],
        "wheel download",
    )
    (target / ".complete").touch()
    return target


def build_image(cache_dir: Path, progress: Progress = print) -> str:
    """Build the kernel image (no-op when the image for this recipe exists) and return its tag."""
    client = docker.from_env()
    try:
        client.ping()
    except docker.errors.DockerException as exc:
        client.close()
        raise ImageBuildError(f"no Docker engine answers: {exc}") from exc
    try:
        return _build(client, Path(cache_dir), progress)
    finally:
        client.close()


def _build(client: docker.DockerClient, cache: Path, progress: Progress) -> str:
    tag = image_tag()
    try:
        client.images.get(tag)
        progress(f"{tag} is up to date")
        return tag
    except docker.errors.ImageNotFound:
        pass
    cache.mkdir(parents=True, exist_ok=True)
    base = _base_image(client, cache, progress)
    wheels = _wheels(cache, progress)
    context = cache / "context"
    shutil.rmtree(context, ignore_errors=True)
    context.mkdir()
    shutil.copytree(wheels, context / "wheels")
    shutil.copy(HERE / "kernel.Dockerfile", context / "Dockerfile")
    shutil.copy(HERE / "requirements.txt", context / "requirements.txt")
    progress(f"building {tag}")
    try:
        for chunk in client.api.build(
            path=str(context),
            tag=tag,
            buildargs={"BASE": base},
            decode=True,
            rm=True,
            forcerm=True,
            labels={LABEL: "kernel"},
        ):
            if "error" in chunk:
                raise ImageBuildError(f"docker build failed: {chunk['error']}")
            line = (chunk.get("stream") or "").strip()
            if line.startswith("Step "):
                progress(line)
    finally:
        shutil.rmtree(context, ignore_errors=True)
    progress(f"built {tag}")
    return tag


def ensure_image(cache_dir: Path, progress: Progress = print) -> str:
    """The kernel image's tag, building it first if it is missing."""
    return build_image(cache_dir, progress)
