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
