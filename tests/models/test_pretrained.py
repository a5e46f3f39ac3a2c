"""Published BiSRNet weights: import, parity with the reference (float64), loader errors."""

import numpy as np
import pytest

from larq_hsi.models import BiSRNet
from larq_hsi.models.pretrained import load_bisrnet_reference, reference_state_dict


def _psnr(a, b, peak=1.0):
    return 10 * np.log10(peak**2 / np.mean((a - b) ** 2))


@pytest.fixture(scope="module")
def fixture_data():
    from tests.conftest import SHARED

    path = SHARED / "reference" / "bisrnet_simulation_fixture.npz"
    if not path.exists():
        pytest.skip(f"{path} not found: the reference fixture lives in ../shared/")
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def _inputs(fixture, dtype):
    h = fixture["H"][None].astype(dtype)
    mask = np.repeat(fixture["mask"][None, ..., None], 28, axis=-1).astype(dtype)
    return [h, mask]


def test_float64_parity_with_reference(fixture_data, shared_dir):
    model = BiSRNet(dtype="float64")
    load_bisrnet_reference(model, shared_dir / "reference" / "bisrnet_simulation_weights.npz")
    out = model(_inputs(fixture_data, "float64")).numpy()[0]
    diff = np.abs(out - fixture_data["output_float64"])
    assert out.dtype == np.float64
    assert diff.mean() < 1e-9, diff.mean()
    assert diff.max() < 1e-7, diff.max()


def test_float32_agrees_statistically(fixture_data, shared_dir):
    model = BiSRNet()
    load_bisrnet_reference(model, shared_dir / "reference" / "bisrnet_simulation_weights.npz")
    out = model(_inputs(fixture_data, "float32")).numpy()[0]
    assert _psnr(out, fixture_data["output"]) > 25.0


def test_real_weights_load_into_real_variant_skipping_fution(shared_dir):
    model = BiSRNet(variant="real", input_size=(16, 16))
    path = shared_dir / "reference" / "bisrnet_real_weights.npz"
    load_bisrnet_reference(model, path)
    with np.load(path) as data:
        expected = {k: data[k] for k in data.files if not k.startswith("fution.")}
    exported = reference_state_dict(model)
    assert sorted(exported) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(exported[key], value, err_msg=key)


@pytest.fixture(scope="module")
def small_state(tmp_path_factory):
    rng = np.random.default_rng(7)
    model = BiSRNet(input_size=(16, 16))
    for w in model.weights:
        w.assign(rng.normal(size=w.shape).astype("float32"))
    state = reference_state_dict(model)
    path = tmp_path_factory.mktemp("w") / "state.npz"
    np.savez(path, **state)
    return model, state, path


def test_simulation_weights_export_back_to_the_file_exactly(shared_dir):
    """Load the published file, export it again: every tensor equals the file's own array.

    The ground truth is the file, not the package's inverse mapping, so a conversion
    error shared by `load_bisrnet_reference` and `reference_state_dict` cannot cancel out
    against a state dict the package wrote itself.
    """
    model = BiSRNet(input_size=(16, 16))
    path = shared_dir / "reference" / "bisrnet_simulation_weights.npz"
    load_bisrnet_reference(model, path)
    with np.load(path) as data:
        expected = {k: data[k] for k in data.files}
    exported = reference_state_dict(model)
    assert sorted(exported) == sorted(expected)
    for key, value in expected.items():
        assert exported[key].shape == value.shape, (key, exported[key].shape, value.shape)
        np.testing.assert_array_equal(exported[key], value, err_msg=key)


def _write(tmp_path, state):
    path = tmp_path / "edited.npz"
    np.savez(path, **state)
    return path


def test_missing_key_is_named(small_state, tmp_path):
    _, state, _ = small_state
    edited = dict(state)
    del edited["body.0.bottleneck.blocks.0.norm.weight"]
    with pytest.raises(ValueError, match="body.0.bottleneck.blocks.0.norm.weight"):
        load_bisrnet_reference(BiSRNet(input_size=(16, 16)), _write(tmp_path, edited))


def test_unexpected_key_is_named(small_state, tmp_path):
    _, state, _ = small_state
    edited = dict(state, **{"body.0.extra.weight": np.zeros(3)})
    with pytest.raises(ValueError, match="unexpected tensor 'body.0.extra.weight'"):
        load_bisrnet_reference(BiSRNet(input_size=(16, 16)), _write(tmp_path, edited))


def test_shape_mismatch_is_named(small_state, tmp_path):
    _, state, _ = small_state
    edited = dict(state, **{"conv_in.weight": np.zeros((28, 28, 1, 1), "float32")})
    with pytest.raises(ValueError, match="conv_in.weight.*shape"):
        load_bisrnet_reference(BiSRNet(input_size=(16, 16)), _write(tmp_path, edited))


def test_unreadable_and_absent_files(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="bad.npz"):
        load_bisrnet_reference(BiSRNet(input_size=(16, 16)), bad)
    with pytest.raises(FileNotFoundError, match="absent.npz"):
        load_bisrnet_reference(BiSRNet(input_size=(16, 16)), tmp_path / "absent.npz")
