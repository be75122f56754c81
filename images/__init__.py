"""Kernel image recipe (`kernel.Dockerfile`, `requirements.txt`) and its registry-free builder."""

from images.build import ImageBuildError, build_image, ensure_image, image_tag

__all__ = ["ImageBuildError", "build_image", "ensure_image", "image_tag"]
