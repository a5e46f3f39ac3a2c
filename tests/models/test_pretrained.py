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


# ------------------------------------------------------------- weights by name (no network)


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty KERAS_HOME and no reachable network: every proxy points at a closed local port."""
    home = tmp_path / "keras_home"
    home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    return home


def _cache(keras_home, shared_dir, variant):
    import shutil

    target = keras_home / "larq_hsi" / f"bisrnet_{variant}.pth"
    target.parent.mkdir(exist_ok=True)
    shutil.copy(shared_dir / "reference" / f"bisrnet_{variant}.pth", target)
    return target


def test_weights_by_name_from_the_cache_reproduce_the_reference(keras_home, shared_dir, fixture_data):
    _cache(keras_home, shared_dir, "simulation")
    model = BiSRNet(input_size=(256, 256), dtype="float64", weights="simulation")
    out = model(_inputs(fixture_data, "float64"), training=False).numpy()[0]
    assert np.max(np.abs(out - fixture_data["output_float64"])) < 1e-9


@pytest.mark.parametrize("variant", ["simulation", "real"])
def test_pth_and_npz_routes_give_identical_variables(shared_dir, variant):
    reference = shared_dir / "reference"
    from_pth = BiSRNet(variant, input_size=(16, 16), weights=reference / f"bisrnet_{variant}.pth")
    from_npz = BiSRNet(variant, input_size=(16, 16), weights=reference / f"bisrnet_{variant}_weights.npz")
    assert len(from_pth.weights) == len(from_npz.weights) > 400
    for a, b in zip(from_pth.weights, from_npz.weights):
        assert a.name.split("/")[0] == b.name.split("/")[0]  # quantizer names carry a global counter
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_offline_without_a_cached_copy_says_where_to_put_the_file(keras_home):
    with pytest.raises(ValueError, match=r"without network, put the file at .*larq_hsi/bisrnet_real\.pth"):
        BiSRNet("real", input_size=(16, 16), weights="real")


def test_a_cached_file_with_the_wrong_hash_is_not_used(keras_home, shared_dir):
    cached = _cache(keras_home, shared_dir, "simulation")
    cached.write_bytes(cached.read_bytes()[:-10] + b"0123456789")  # same size, other content
    with pytest.raises(ValueError, match="cannot fetch the published 'simulation' weights"):
        BiSRNet(input_size=(16, 16), weights="simulation")


def test_a_download_with_the_wrong_hash_is_refused(keras_home, tmp_path, monkeypatch):
    import tensorflow as tf

    fake = tmp_path / "downloaded.pth"
    fake.write_bytes(b"PK\x05\x06" + bytes(18))

    def get_file(fname, origin, file_hash=None, **kwargs):  # a server that serves another file
        from keras.src.utils.data_utils import validate_file

        if not validate_file(str(fake), file_hash, kwargs.get("hash_algorithm", "auto")):
            raise ValueError(f"Incomplete or corrupted file detected. The sha256 file hash does not match "
                             f"the provided value of {file_hash}.")
        return str(fake)

    monkeypatch.setattr(tf.keras.utils, "get_file", get_file)
    with pytest.raises(ValueError, match="corrupted file detected"):
        BiSRNet(input_size=(16, 16), weights="simulation")


def test_a_name_or_a_known_file_of_the_other_variant_is_refused(shared_dir):
    with pytest.raises(ValueError, match="weights='simulation' are the simulation BiSRNet's; this is the real"):
        BiSRNet("real", input_size=(16, 16), weights="simulation")
    for file in ("bisrnet_real.pth", "bisrnet_real_weights.npz"):
        with pytest.raises(ValueError, match="published real BiSRNet weights .*sha256.* simulation variant"):
            BiSRNet(input_size=(16, 16), weights=shared_dir / "reference" / file)
