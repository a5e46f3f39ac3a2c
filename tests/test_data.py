"""Readers, synthetic scenes, the tf.data CASSI training pipeline and previews."""

import time

import h5py
import numpy as np
import pytest
import scipy.io
from PIL import Image

from larq_hsi import cassi, data

# --------------------------------------------------------------------------- readers


@pytest.fixture
def cube(rng):
    return rng.uniform(size=(6, 5, 28)).astype(np.float32)


def test_mat_v5_keys_and_integer_scaling(tmp_path, cube):
    counts = (cube * 65535).astype(np.uint16)
    scipy.io.savemat(tmp_path / "cave.mat", {"img_expand": counts, "other": np.zeros(3)})
    np.testing.assert_array_equal(data.load_cube(tmp_path / "cave.mat"), (counts / 65536.0).astype(np.float32))
    scipy.io.savemat(tmp_path / "kaist.mat", {"img": cube})  # floats in [0, 1]: kept
    np.testing.assert_array_equal(data.load_cube(tmp_path / "kaist.mat"), cube)
    scipy.io.savemat(tmp_path / "whole.mat", {"img": counts.astype(np.float64)})  # whole numbers in a double
    np.testing.assert_array_equal(data.load_cube(tmp_path / "whole.mat"), (counts / 65536.0).astype(np.float32))
    np.testing.assert_array_equal(data.load_cube(tmp_path / "cave.mat", scale=None), counts.astype(np.float32))


def test_mat_v73_is_read_through_h5py_and_transposed_back(tmp_path, cube):
    path = tmp_path / "v73.mat"
    with h5py.File(path, "w", userblock_size=512) as f:  # MATLAB's layout: header block, then HDF5
        f["img"] = cube.T  # column-major on disk: h5py sees (bands, width, height)
    with open(path, "r+b") as f:  # 116 bytes of text, 8 of subsystem offset, version 0x0200, "IM"
        f.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00 .".ljust(116) + bytes(8) + b"\x00\x02IM")
    with pytest.raises(NotImplementedError):
        scipy.io.loadmat(path)  # what users hit with scipy alone
    np.testing.assert_array_equal(data.load_cube(path), cube)


def test_npy_npz_and_hdf5(tmp_path, cube):
    np.save(tmp_path / "c.npy", cube)
    np.testing.assert_array_equal(data.load_cube(tmp_path / "c.npy"), cube)
    np.savez(tmp_path / "c.npz", cube=cube, extra=np.zeros(2))
    np.testing.assert_array_equal(data.load_cube(tmp_path / "c.npz"), cube)
    np.savez(tmp_path / "k.npz", a=cube, b=cube * 0)
    np.testing.assert_array_equal(data.load_cube(tmp_path / "k.npz", key="b"), cube * 0)
    with h5py.File(tmp_path / "c.h5", "w") as f:
        f["scene"] = cube  # plain HDF5: no transpose
    np.testing.assert_array_equal(data.load_cube(tmp_path / "c.h5"), cube)


def test_png_folder_in_name_order(tmp_path, rng):
    """CAVE ships one 16-bit PNG per band; bands are read in name order (numbers compared as numbers)."""
    bands = (rng.uniform(size=(11, 4, 3)) * 65535).astype(np.uint16)
    folder = tmp_path / "scene_ms"
    folder.mkdir()
    for n in range(11):
        Image.fromarray(bands[n]).save(folder / f"scene_ms_{n + 1}.png")  # _1 .. _11 (not zero padded)
    (folder / "notes.txt").write_text("not a band")
    out = data.load_cube(folder, expected_bands=11)
    assert out.shape == (4, 3, 11) and out.dtype == np.float32
    np.testing.assert_allclose(out, np.moveaxis(bands, 0, -1) / 65535.0, rtol=1e-6)
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(folder / "scene_ms_12.png")
    with pytest.raises(ValueError, match="scene_ms_12.png.*differs"):
        data.load_cube(folder)


def test_reader_errors_name_the_file(tmp_path, cube):
    scipy.io.savemat(tmp_path / "two.mat", {"a": cube, "b": cube})
    with pytest.raises(KeyError, match=r"two\.mat.*img_expand.*\['a', 'b'\]"):
        data.load_cube(tmp_path / "two.mat")
    with pytest.raises(KeyError, match=r"two\.mat.*'nope'"):
        data.load_cube(tmp_path / "two.mat", key="nope")
    with pytest.raises(ValueError, match=r"two\.mat.*expected 31 bands.*got 28"):
        data.load_cube(tmp_path / "two.mat", key="a", expected_bands=31)
    (tmp_path / "junk.mat").write_bytes(b"this is not a MATLAB file at all" * 8)
    with pytest.raises(ValueError, match=r"cannot read .*junk\.mat"):
        data.load_cube(tmp_path / "junk.mat")
    (tmp_path / "junk.npy").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"cannot read .*junk\.npy"):
        data.load_cube(tmp_path / "junk.npy")
    (tmp_path / "junk.png").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"junk\.png"):
        data.read_png(tmp_path / "junk.png")
    with pytest.raises(FileNotFoundError, match=r"missing\.mat"):
        data.load_cube(tmp_path / "missing.mat")
    (tmp_path / "c.tif").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"c\.tif.*unknown format"):
        data.load_cube(tmp_path / "c.tif")
    np.save(tmp_path / "flat.npy", np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"flat\.npy.*\(height, width, bands\).*\(4, 4\)"):
        data.load_cube(tmp_path / "flat.npy")
    bad = cube.copy()
    bad[0, 0, 0] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(ValueError, match=r"nan\.npy.*1 NaN"):
        data.load_cube(tmp_path / "nan.npy")


# --------------------------------------------------------------------------- synthetic scenes


def test_synthetic_scene_basics():
    start = time.perf_counter()
    scene = data.synthetic_scene(256, seed=7)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"a 256x256x28 synthetic scene took {elapsed:.2f} s"
    assert scene.shape == (256, 256, 28) and scene.dtype == np.float32
    assert scene.min() >= 0 and scene.max() <= 1 and scene.max() > 0.3
    np.testing.assert_array_equal(scene, data.synthetic_scene(256, seed=7))
    assert np.abs(scene - data.synthetic_scene(256, seed=8)).mean() > 0.05
    assert data.synthetic_scene((40, 60), bands=31, seed=0).shape == (40, 60, 31)
    a, b = data.synthetic_scenes(2, 32, seed=1)
    assert a.shape == (32, 32, 28) and not np.array_equal(a, b)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_synthetic_scene_is_piecewise_smooth_with_distinct_smooth_spectra(seed):
    scene = data.synthetic_scene(128, seed=seed).astype(np.float64)
    # smooth spectra: the second difference over bands is small next to the values
    curvature = np.abs(np.diff(scene, n=2, axis=-1)).mean()
    assert curvature < 0.05 * scene.mean()
    # sharp edges exist (a jump between neighbours) but most pixels sit in smooth parts
    grad = np.abs(np.diff(scene.mean(-1), axis=1))
    assert grad.max() > 0.1
    assert np.median(grad) < 0.02
    # distinct spectral shapes: spectral angles between pixels reach well beyond noise level
    rng = np.random.default_rng(seed)
    pixels = scene.reshape(-1, 28)[rng.choice(128 * 128, 300, replace=False)]
    unit = pixels / np.linalg.norm(pixels, axis=1, keepdims=True)
    angles = np.arccos(np.clip(unit @ unit.T, -1, 1))
    assert angles.max() > 0.3


def test_wavelengths_cover_450_to_650():
    lam = data.wavelengths_for(28)
    np.testing.assert_array_equal(lam, cassi.CASSI_WAVELENGTHS)
    assert np.all(np.diff(lam) > 0) and 450 <= lam[0] < 460 and 640 < lam[-1] <= 650
    np.testing.assert_allclose(data.wavelengths_for(5), [450, 500, 550, 600, 650])


# --------------------------------------------------------------------------- pipeline


@pytest.fixture(scope="module")
def scenes():
    rng = np.random.default_rng(99)
    # i.i.d. noise: a window matches only where it was cut
    return [rng.uniform(size=s + (28,)).astype(np.float32) for s in [(20, 26), (24, 20), (22, 22)]]


def _windows(big, size):
    for top in range(big.shape[0] - size + 1):
        for left in range(big.shape[1] - size + 1):
            yield big[top : top + size, left : left + size]


def _is_window(small, bigs):
    return any(np.array_equal(small, w) for big in bigs for w in _windows(big, small.shape[0]))


def _dihedral(x):
    for k in range(4):
        yield np.rot90(x, k)
        yield np.rot90(x[::-1], k)


def _take(ds, n):
    return list(ds.take(n).as_numpy_iterator())


def test_simulation_batches_are_crops_and_their_measurement(scenes):
    mask = cassi.random_mask(16, seed=5)
    ds = data.training_dataset(scenes, mask, crop_size=16, batch_size=3, seed=1, augment=False)
    assert ds.element_spec[0][0].shape == (3, 16, 16, 28) and ds.element_spec[1].shape == (3, 16, 16, 28)
    for (h, phi), cube in _take(ds, 2):
        for i in range(3):
            assert _is_window(cube[i], scenes)
            np.testing.assert_array_equal(phi[i], np.repeat(mask[..., None], 28, -1))
            y = cassi.measure_np(cube[i], mask)
            np.testing.assert_array_equal(h[i], cassi.network_input_np(y))  # bit-exact with numpy


def test_augmentation_rotates_and_flips_crops(scenes):
    ds = data.training_dataset(scenes, crop_size=12, batch_size=4, seed=2)
    cubes = np.concatenate([c for _, c in _take(ds, 4)])
    plain = 0
    for cube in cubes:
        variants = [v for v in _dihedral(cube) if _is_window(v, scenes)]
        assert variants, "every sample is a rotated/flipped crop of a scene"
        plain += _is_window(cube, scenes)
    assert plain < len(cubes)  # some were transformed (all 16 untouched: probability 8^-16)


def test_splice_tiles_four_half_crops(scenes):
    ds = data.training_dataset(scenes, crop_size=16, batch_size=2, seed=3, splice=True)
    for _, cube in _take(ds, 3):
        assert any(_is_window(v, scenes) for v in _dihedral(cube[0]))  # plain half of the batch
        spliced = cube[1]
        assert not any(_is_window(v, scenes) for v in _dihedral(spliced))
        for quarter in (spliced[:8, :8], spliced[:8, 8:], spliced[8:, :8], spliced[8:, 8:]):
            assert _is_window(quarter, scenes)


def test_mask_crop_and_roll_modes(scenes):
    big = cassi.random_mask((30, 34), seed=1)
    ds = data.training_dataset(scenes, big, crop_size=16, batch_size=4, seed=4, mask_mode="crop")
    masks = np.concatenate([phi[..., 0] for (_, phi), _ in _take(ds, 2)])
    assert all(_is_window(m, [big]) for m in masks)
    assert len({m.tobytes() for m in masks}) > 1
    small = cassi.random_mask(16, seed=2)
    ds = data.training_dataset(scenes, small, crop_size=16, batch_size=4, seed=4, mask_mode="roll")
    (h, phi), cube = _take(ds, 1)[0]
    rolls = {(dy, dx) for dy in range(16) for dx in range(16)}
    for i in range(4):
        found = [s for s in rolls if np.array_equal(phi[i, ..., 0], np.roll(small, s, axis=(0, 1)))]
        assert found
        np.testing.assert_array_equal(h[i], cassi.network_input_np(cassi.measure_np(cube[i], phi[i, ..., 0])))
    assert len({phi[i, ..., 0].tobytes() for i in range(4)}) > 1


def test_real_variant_yields_scaled_measurements(scenes):
    mask = cassi.random_mask(16, seed=6)
    clean = data.training_dataset(scenes, mask, crop_size=16, batch_size=2, seed=5, variant="real", shot_noise=False)
    assert clean.element_spec[0].shape == (2, 16, 16 + 54)
    y, cube = _take(clean, 1)[0]
    for i in range(2):
        expected = cassi.measure_np(cube[i], mask) / np.float32(28) * np.float32(2) * np.float32(1.2)
        np.testing.assert_array_equal(y[i], expected)  # the reference's meas / 28 * 2 * 1.2
    noisy = data.training_dataset(scenes, mask, crop_size=16, batch_size=2, seed=5, variant="real")
    y_noisy, cube_noisy = _take(noisy, 1)[0]
    np.testing.assert_array_equal(cube_noisy, cube)  # same seed, same crops; only noise added
    np.testing.assert_array_equal(y_noisy * 2048, np.round(y_noisy * 2048))  # 11-bit levels
    # closed form per pixel: n = floor(y 2048 / 0.4) photons, k ~ Binomial(n, 0.4), y~ = k / 2048
    n = np.floor(y.astype(np.float64) * 2048 / 0.4)
    bias = n * 0.4 / 2048 - y
    second_moment = n * 0.4 * 0.6 / 2048**2 + bias**2
    diff = (y_noisy - y).astype(np.float64)
    assert np.mean(diff**2) == pytest.approx(second_moment.mean(), rel=0.15)  # ~2200 pixels: sd ~3%
    assert abs(diff.mean() - bias.mean()) < 5 * np.sqrt(second_moment.mean() / diff.size)


def test_pipeline_is_deterministic_with_a_seed(scenes):
    def batches(seed):
        ds = data.training_dataset(scenes, crop_size=12, batch_size=2, seed=seed, splice=True, mask_mode="roll")
        return [np.concatenate([h.ravel(), c.ravel()]) for (h, _), c in _take(ds, 3)]

    first, again, other = batches(11), batches(11), batches(12)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_samples_limits_the_dataset_and_dtype(scenes):
    ds = data.training_dataset(scenes, crop_size=8, batch_size=2, samples=5, dtype="float64", prefetch=False)
    batches = list(ds.as_numpy_iterator())
    assert len(batches) == 2
    assert batches[0][1].dtype == np.float64 and batches[0][0][0].dtype == np.float64


def test_pipeline_errors(scenes):
    with pytest.raises(ValueError, match=r"scene 0: expected 28 bands.*got 27"):
        data.training_dataset([np.zeros((20, 20, 27))], crop_size=8)
    with pytest.raises(ValueError, match=r"scene 1: 10x30 is smaller than the crop 16x16"):
        data.training_dataset([np.zeros((20, 20, 28)), np.zeros((10, 30, 28))], crop_size=16)
    with pytest.raises(ValueError, match=r"needs a 16x16 mask.*\(20, 20\)"):
        data.training_dataset(scenes, np.ones((20, 20)), crop_size=16)
    with pytest.raises(ValueError, match="at least 16x16"):
        data.training_dataset(scenes, np.ones((12, 40)), crop_size=16, mask_mode="crop")
    with pytest.raises(ValueError, match="mask_mode"):
        data.training_dataset(scenes, crop_size=16, mask_mode="shuffle")
    with pytest.raises(ValueError, match="variant"):
        data.training_dataset(scenes, crop_size=16, variant="video")
    nan_scene = np.zeros((20, 20, 28))
    nan_scene[3, 3, 3] = np.nan
    with pytest.raises(ValueError, match="scene 0 must be finite"):
        data.training_dataset([nan_scene], crop_size=16)


def test_batches_fit_the_bisrnet_inputs():
    """The simulation model runs on a pipeline batch; the real one's input is (B, S, S + 54) (see test_models_bisrnet)."""
    from larq_hsi.models import BiSRNet

    scenes = data.synthetic_scenes(2, 24, seed=0)
    sim = data.training_dataset(scenes, crop_size=16, batch_size=2, seed=0)
    model = BiSRNet(input_size=(16, 16))
    assert [tuple(s.shape[1:]) for s in sim.element_spec[0]] == [tuple(i.shape[1:]) for i in model.inputs]
    (h, phi), cube = next(iter(sim))
    out = model([h, phi])
    assert out.shape == cube.shape and np.all(np.isfinite(out.numpy()))
    real = data.training_dataset(scenes, crop_size=16, batch_size=2, seed=0, variant="real")
    assert tuple(real.element_spec[0].shape) == (2, 16, 16 + 2 * 27)


# --------------------------------------------------------------------------- preview


def test_save_preview_colours_follow_wavelength(tmp_path):
    lam = data.wavelengths_for(28)
    red = np.broadcast_to((lam > 600).astype(np.float32), (8, 9, 28))
    blue = np.broadcast_to((lam < 480).astype(np.float32), (8, 9, 28))
    rgb_red = data.save_preview(red, tmp_path / "red.png")
    rgb_blue = data.save_preview(blue, tmp_path / "sub" / "blue.png")
    assert rgb_red[..., 0].mean() > 5 * rgb_red[..., 2].mean()
    assert rgb_blue[..., 2].mean() > 5 * rgb_blue[..., 0].mean()
    with Image.open(tmp_path / "sub" / "blue.png") as image:
        written = np.array(image.convert("RGB"))
    assert written.shape == (8, 9, 3)
    np.testing.assert_array_equal(written, (rgb_blue * 255 + 0.5).astype(np.uint8))
    with pytest.raises(ValueError, match="bands"):
        data.save_preview(np.zeros((4, 4)), tmp_path / "x.png")


def test_read_measurement_finds_the_key_and_rejects_bad_arrays(tmp_path):
    import scipy.io

    y = np.arange(12, dtype=np.float32).reshape(3, 4)
    scipy.io.savemat(tmp_path / "m.mat", {"meas_real": y[None]})
    np.testing.assert_array_equal(data.read_measurement(tmp_path / "m.mat"), y)
    np.save(tmp_path / "cube.npy", np.zeros((3, 4, 2), np.float32))
    with pytest.raises(ValueError, match="2-D.*got shape \\(3, 4, 2\\)"):
        data.read_measurement(tmp_path / "cube.npy")
    bad = y.copy()
    bad[1, 1] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(ValueError, match="nan.npy"):
        data.read_measurement(tmp_path / "nan.npy")


def test_default_spectra_pixels_land_on_the_bright_objects():
    from larq_hsi import previews

    cube = np.zeros((64, 80, 28), np.float32)
    cube[5:15, 60:72] = 0.8    # a bright object in the top-right cell
    cube[40:56, 8:20] = 0.5    # a dimmer one bottom-left
    cube[30, 40] = 5.0         # a single hot pixel: smoothed away
    pixels = previews.default_pixels(cube, count=2)
    assert len(pixels) == 2
    (r1, c1), (r2, c2) = pixels
    assert 5 <= r1 < 15 and 60 <= c1 < 72
    assert 40 <= r2 < 56 and 8 <= c2 < 20


def test_save_cube_writes_the_cube_and_its_previews(tmp_path):
    from larq_hsi import previews

    cube = np.random.default_rng(0).uniform(size=(12, 16, 28)).astype(np.float32)
    paths = previews.save_cube(cube, tmp_path / "out")
    assert [p.name for p in paths] == list(previews.CUBE_FILES)
    assert all(p.stat().st_size > 0 for p in paths)
    np.testing.assert_array_equal(np.load(paths[0]), cube)
    np.testing.assert_array_equal(scipy.io.loadmat(str(paths[1]))["cube"], cube)


def test_save_comparison_writes_truth_and_estimate_previews(tmp_path):
    from larq_hsi import previews

    rng = np.random.default_rng(1)
    truth = rng.uniform(size=(12, 16, 28)).astype(np.float32)
    paths = previews.save_comparison(truth, truth * 0.9, tmp_path / "cmp")
    assert [p.name for p in paths] == list(previews.COMPARISON_FILES)
    assert all(p.stat().st_size > 0 for p in paths)
    with pytest.raises(ValueError, match="same shape"):
        previews.save_comparison(truth, truth[:6], tmp_path / "bad")
