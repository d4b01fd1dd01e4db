"""Triton kernels (backend "triton")."""
from __future__ import annotations


def why_unavailable(device_type: str) -> str | None:
    return "the Triton kernels are not part of this release yet"
