"""Pan-sharpening samples: aligned patches, synthetic samples and the readers (with their errors)."""

import h5py
import numpy as np
import pytest
import scipy.io
import tensorflow as tf

from larq_hsi.tasks.pansharpening import dataset as D
from larq_hsi.tasks.pansharpening.simulate import simulate

# --------------------------------------------------------------------------- patches and synthetic samples


def test_extract_patches_are_aligned():
    sample = simulate(np.random.default_rng(0).uniform(size=(1, 24, 32, 2)), ratio=4)
    patches = D.extract_patches(sample, crop_size=16, stride=8)
    assert patches["pan"].shape == (2 * 3, 16, 16, 1) and patches["ms"].shape == (6, 4, 4, 2)
    # Patch (row 1, column 2): PAN from (8, 16), HS from (2, 4).
    k = 1 * 3 + 2
    np.testing.assert_array_equal(patches["pan"][k], sample["pan"][0, 8:24, 16:32])
    np.testing.assert_array_equal(patches["gt"][k], sample["gt"][0, 8:24, 16:32])
    np.testing.assert_array_equal(patches["ms"][k], sample["ms"][0, 2:6, 4:8])
    with pytest.raises(ValueError, match="multiples of the ratio 4"):
        D.extract_patches(sample, crop_size=16, stride=6)
    with pytest.raises(ValueError, match="expected ratio 2"):
        D.extract_patches(sample, ratio=2)


def test_synthetic_pansharpening_uses_the_data_generator():
    s = D.synthetic_pansharpening(count=2, size=32, bands=5, ratio=4, seed=3)
    assert s["gt"].shape == (2, 32, 32, 5) and s["ms"].shape == (2, 8, 8, 5)
    assert 0 <= s["gt"].min() and s["gt"].max() <= 1 and s["gt"].std() > 0


# --------------------------------------------------------------------------- readers


def _sample(rng, n=2, bands=3, h=4, ratio=4):
    gt = rng.uniform(size=(n, h * ratio, h * ratio, bands))
    return {"gt": gt, "ms": gt[:, ::ratio, ::ratio], "lms": gt + 0.01, "pan": gt.mean(-1, keepdims=True)}


def test_reads_channels_first_h5(tmp_path, rng):
    sample = _sample(rng)
    path = tmp_path / "train.h5"
    with h5py.File(path, "w") as f:
        for k, v in sample.items():
            f[k] = np.transpose(v, (0, 3, 1, 2)) * 2047.0  # HyperPanCollection layout, 11-bit numbers
    loaded = D.load_pansharpening(path, ratio=4, scale=2047.0)
    for k, v in sample.items():
        np.testing.assert_allclose(loaded[k], v, rtol=1e-6)


def test_reads_channels_last_mat_and_recomputes_lms(tmp_path, rng):
    sample = {k: v[0] for k, v in _sample(rng, bands=2).items() if k != "lms"}
    sample["pan"] = sample["pan"][..., 0]  # a 2-D PAN
    path = tmp_path / "test.mat"
    scipy.io.savemat(path, sample)
    loaded = D.load_pansharpening(path)
    np.testing.assert_allclose(loaded["gt"], sample["gt"], rtol=1e-6)
    assert loaded["pan"].shape == (16, 16, 1)
    np.testing.assert_allclose(
        loaded["lms"], tf.image.resize(sample["ms"][None], (16, 16), method="bicubic")[0].numpy(), rtol=1e-5
    )


def test_reader_errors_name_the_file(tmp_path, rng):
    sample = _sample(rng)
    path = tmp_path / "broken.h5"
    with h5py.File(path, "w") as f:
        f["gt"], f["ms"] = sample["gt"], sample["ms"]
    with pytest.raises(KeyError, match=r"broken\.h5.*missing key 'pan'"):
        D.load_pansharpening(path)
    path = tmp_path / "ratio.h5"
    with h5py.File(path, "w") as f:
        f["ms"], f["pan"] = sample["ms"], sample["pan"]
    with pytest.raises(ValueError, match=r"ratio\.h5: expected ratio 6, but .* gives ratio 4"):
        D.load_pansharpening(path, ratio=6)
    path = tmp_path / "odd.h5"
    with h5py.File(path, "w") as f:
        f["ms"], f["pan"] = sample["ms"][:, :3], sample["pan"]
    with pytest.raises(ValueError, match=r"odd\.h5: the PAN size 16x16 is not an integer multiple"):
        D.load_pansharpening(path)
    path = tmp_path / "gt.h5"
    with h5py.File(path, "w") as f:
        f["ms"], f["pan"], f["gt"] = sample["ms"], sample["pan"], sample["gt"][..., :2]
    with pytest.raises(ValueError, match=r"gt\.h5: gt must be the PAN size"):
        D.load_pansharpening(path)
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        D.load_pansharpening(tmp_path / "nope.h5")


# --------------------------------------------------------------------------- folders of cubes (Wald's protocol)


def test_a_folder_of_npy_cubes_is_simulated_cube_by_cube(npy_folder):
    folder, cubes = npy_folder
    (folder / "notes.txt").write_text("not a cube")  # ignored
    sample = D.load_pansharpening_scenes(folder)
    assert sample["gt"].shape == (3, 16, 16, 8) and sample["lms"].shape == (3, 16, 16, 8)
    assert sample["ms"].shape == (3, 4, 4, 8) and sample["pan"].shape == (3, 16, 16, 1)
    assert all(v.dtype == np.float32 for v in sample.values())
    for n, cube in enumerate(cubes):  # name order, native band count, whole cubes
        np.testing.assert_array_equal(sample["gt"][n], cube)
        expected = simulate(cube, ratio=4)
        for k in ("ms", "lms", "pan"):
            np.testing.assert_allclose(sample[k][n], expected[k], rtol=1e-6, atol=1e-7)
        # No wavelengths known: the PAN is the band mean.
        np.testing.assert_allclose(sample["pan"][n, ..., 0], cube.mean(-1), rtol=1e-5)
    ratio2 = D.load_pansharpening_scenes(folder, ratio=2)
    assert ratio2["ms"].shape == (3, 8, 8, 8)
    # A sequence of paths works too, in the order given.
    picked = D.load_pansharpening_scenes([folder / "c.npy", folder / "a.npy"])
    np.testing.assert_array_equal(picked["gt"], np.stack([cubes[2], cubes[0]]))


def test_a_cave_folder_uses_its_wavelengths_for_the_pan(cave_folder):
    folder, cubes = cave_folder
    sample = D.load_pansharpening_scenes(folder)
    assert sample["gt"].shape == (2, 16, 16, 31) and sample["ms"].shape == (2, 4, 4, 31)
    np.testing.assert_allclose(sample["gt"], np.stack(cubes), rtol=1e-6)
    # CAVE band n is at 400 + 10 (n - 1) nm: the 450-900 nm PAN averages bands 6..31 (450..700 nm).
    pan = np.stack(cubes)[..., 5:].mean(-1)
    np.testing.assert_allclose(sample["pan"][..., 0], pan, rtol=1e-5)
    assert np.abs(sample["pan"][..., 0] - np.stack(cubes).mean(-1)).max() > 1e-3  # not the plain band mean
    # An explicit srf applies to every cube instead.
    srf = np.zeros(31)
    srf[0] = 1.0
    first = D.load_pansharpening_scenes(folder, srf=srf)
    np.testing.assert_allclose(first["pan"][..., 0], np.stack(cubes)[..., 0], rtol=1e-6)


def test_cubes_of_different_sizes_are_centre_cropped_to_the_smallest_common_size(tmp_path, rng):
    folder = tmp_path / "sizes"
    folder.mkdir()
    tall, wide = rng.uniform(size=(22, 17, 3)), rng.uniform(size=(18, 30, 3))
    np.save(folder / "a.npy", tall)
    scipy.io.savemat(folder / "b.mat", {"cube": wide})
    sample = D.load_pansharpening_scenes(folder)
    # min height 18 -> 16, min width 17 -> 16; windows start at ((H - 16) // 2, (W - 16) // 2).
    assert sample["gt"].shape == (2, 16, 16, 3)
    np.testing.assert_allclose(sample["gt"][0], tall[3:19, 0:16], rtol=1e-6)
    np.testing.assert_allclose(sample["gt"][1], wide[1:17, 7:23], rtol=1e-6)
    cropped = D.load_pansharpening_scenes(folder, crop=8)
    assert cropped["gt"].shape == (2, 8, 8, 3) and cropped["ms"].shape == (2, 2, 2, 3)
    np.testing.assert_allclose(cropped["gt"][1], wide[5:13, 11:19], rtol=1e-6)


def test_folder_errors_are_one_line_and_name_the_file(npy_folder, tmp_path):
    folder, _ = npy_folder
    np.save(folder / "d.npy", np.full((16, 16, 5), 0.5, np.float32))
    with pytest.raises(ValueError, match=r"d\.npy: 5 bands, but .*a\.npy has 8; every cube") as error:
        D.load_pansharpening_scenes(folder)
    assert "\n" not in str(error.value)
    (folder / "d.npy").unlink()
    for crop in (6, 2, 0):
        with pytest.raises(ValueError, match=f"crop must be a positive multiple of the ratio 4, got {crop}"):
            D.load_pansharpening_scenes(folder, crop=crop)
    with pytest.raises(ValueError, match=r"a\.npy: the cube \(16x16\) is smaller than crop 20"):
        D.load_pansharpening_scenes(folder, crop=20)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no cubes"):
        D.load_pansharpening_scenes(empty)
    np.save(tmp_path / "tiny.npy", np.ones((3, 3, 8), np.float32))
    with pytest.raises(ValueError, match=r"tiny\.npy: the cube \(3x3\) is smaller than the ratio 4"):
        D.load_pansharpening_scenes([tmp_path / "tiny.npy"])


def test_the_shared_cave_scenes_as_pansharpening_samples(shared_dir):
    from larq_hsi import io
    from larq_hsi.metrics import psnr

    cave = shared_dir / "data" / "cave"
    scenes = io.scene_entries(cave)[:2]
    sample = D.load_pansharpening_scenes(scenes, crop=64)
    assert sample["gt"].shape == (2, 64, 64, 31) and sample["ms"].shape == (2, 16, 16, 31)
    np.testing.assert_array_equal(sample["gt"][0], io.load_cube(scenes[0])[224:288, 224:288])
    assert 0.0 <= sample["gt"].min() and sample["gt"].max() <= 1.0 and sample["gt"].std() > 0.01
    np.testing.assert_allclose(sample["pan"][..., 0], sample["gt"][..., 5:].mean(-1), rtol=1e-5, atol=1e-7)
    # Bicubic upsampling is a fair but imperfect baseline on real scenes.
    bicubic = psnr(sample["gt"], sample["lms"]).numpy()
    assert np.all((bicubic > 20) & (bicubic < 60)), bicubic
