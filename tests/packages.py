"""Installing a plugin package as its author would, without touching the suite's environment.

A plugin installed into the suite's own environment would be loaded by every
gateway the suite starts. These helpers build the package and install it into
a folder of its own; put that folder on ``sys.path`` (:func:`on_path`) or
``PYTHONPATH`` and the gateway finds the plugin through its entry point,
exactly as it finds a package installed with pip.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def install(source: Path, into: Path) -> Path:
    """Build the package at ``source`` and install it (no dependencies) into ``into``.

    Offline: the build backend is the environment's own setuptools. pip builds
    in the source tree, so it builds a copy.
    """
    copy = into.with_name(f"{into.name}-source")
    leftovers = shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    shutil.copytree(source, copy, ignore=leftovers)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    subprocess.run(
        [*pip, "--no-build-isolation", "--target", str(into), str(copy)],
        check=True,
        capture_output=True,
        text=True,
    )
    return into


@contextmanager
def on_path(folder: Path) -> Iterator[None]:
    """``folder``'s packages and entry points visible to this process, inside the block."""
    sys.path.insert(0, str(folder))
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.path.remove(str(folder))
        importlib.invalidate_caches()


def run_own_tests(root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """pytest in a plugin package's folder, as its author runs it, with ``env`` added."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "pytest"), "-q", "-p", "no:cacheprovider"],
        cwd=root,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=900,
    )
