"""Tiny cube folders for the pan-sharpening folder tests, written to tmp_path."""

import numpy as np
import pytest


def write_npy_folder(folder, count=3, size=(16, 16), bands=8, seed=0):
    """`count` random cubes `a.npy`, `b.npy`, ... in [0.1, 1); returns them in name order."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cubes = [rng.uniform(0.1, 1.0, size=(*size, bands)).astype(np.float32) for _ in range(count)]
    for name, cube in zip("abcdefgh", cubes):
        np.save(folder / f"{name}.npy", cube)
    return cubes


def write_cave_scene(root, name, size=(16, 16), bands=31, seed=0):
    """A CAVE scene as downloaded, `root/<name>_ms/<name>_ms/<name>_ms_NN.png` (16-bit), and its cube in [0, 1]."""
    from PIL import Image

    inner = root / f"{name}_ms" / f"{name}_ms"
    inner.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    levels = rng.integers(1000, 65535, size=(*size, bands)).astype(np.uint16)
    for n in range(bands):
        Image.fromarray(levels[..., n]).save(inner / f"{name}_ms_{n + 1:02d}.png")
    (inner / f"{name}_RGB.bmp").write_bytes(b"BM not really an image")
    return (levels / 65535.0).astype(np.float32)


@pytest.fixture
def npy_folder(tmp_path):
    """Three 16x16x8 `.npy` cubes (a, b, c) and the cubes."""
    folder = tmp_path / "npy"
    return folder, write_npy_folder(folder)


@pytest.fixture
def cave_folder(tmp_path):
    """Two tiny 16x16 CAVE scenes (31 bands at 400-700 nm, as downloaded) and their cubes."""
    folder = tmp_path / "cave"
    folder.mkdir()
    return folder, [write_cave_scene(folder, name, seed=i) for i, name in enumerate(("alpha", "beta"))]
