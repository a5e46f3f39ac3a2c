"""CASSI physics: closed forms, adjointness, the reference fixture, shot-noise statistics, errors."""

import numpy as np
import pytest
import tensorflow as tf

from larq_hsi import io
from larq_hsi.tasks.cassi import physics as cassi
from tests.conftest import SHARED
from tests.tasks.cassi import twins

FIXTURE = SHARED / "reference" / "bisrnet_simulation_fixture.npz"
CASSI_DATA = SHARED / "data" / "cassi"


@pytest.fixture(scope="module")
def fixture():
    if not FIXTURE.is_file():
        pytest.skip(f"reference fixture not found at {FIXTURE} (../shared absent)")
    with np.load(FIXTURE) as f:
        return {k: f[k] for k in ("cube", "mask", "measurement", "H")}


def _cassi_data(name):
    path = CASSI_DATA / name
    if not path.is_file():
        pytest.skip(f"{path} not found (../shared absent)")
    return path


def _measure_by_definition(cube, mask, step):
    """Y(x, y) = sum_n M(x, y - dn) X(x, y - dn, n) over the valid n, pixel by pixel."""
    height, width, bands = cube.shape
    y = np.zeros((height, width + step * (bands - 1)))
    for r in range(height):
        for c in range(y.shape[1]):
            for n in range(bands):
                src = c - step * n
                if 0 <= src < width:
                    y[r, c] += mask[r, src] * cube[r, src, n]
    return y


# --------------------------------------------------------------------------- reference fixture


def test_simulation_reproduces_the_reference_fixture_bit_for_bit(fixture):
    sim = cassi.simulate(fixture["cube"], fixture["mask"])
    assert sim.measurement.shape == (256, 310) and sim.H.shape == (256, 256, 28)
    np.testing.assert_array_equal(sim.measurement.numpy(), fixture["measurement"])
    np.testing.assert_array_equal(sim.H.numpy(), fixture["H"])
    np.testing.assert_array_equal(sim.Phi.numpy(), np.repeat(fixture["mask"][..., None], 28, -1))
    # numpy twins: same arithmetic, same bits
    np.testing.assert_array_equal(twins.measure_np(fixture["cube"], fixture["mask"]), fixture["measurement"])
    np.testing.assert_array_equal(twins.network_input_np(fixture["measurement"]), fixture["H"])


def test_graph_mode_reproduces_the_fixture_bit_for_bit(fixture):
    """Grappler must not reorder the band sum or turn / (N/2) into * (2/N) (both cost ulps)."""
    graph = tf.function(lambda c, m: cassi.simulate(c, m))
    sim = graph(tf.constant(fixture["cube"]), tf.constant(fixture["mask"]))
    np.testing.assert_array_equal(sim.measurement.numpy(), fixture["measurement"])
    np.testing.assert_array_equal(sim.H.numpy(), fixture["H"])
    ds = tf.data.Dataset.from_tensors(fixture["measurement"]).map(cassi.network_input)
    np.testing.assert_array_equal(next(iter(ds)).numpy(), fixture["H"])


def test_fixture_input_is_the_shift_back_times_2_over_n(fixture):
    y, h = fixture["measurement"], fixture["H"]
    windows = twins.shift_back_np(y)
    np.testing.assert_array_equal(h, windows / np.float32(14))  # / 28 * 2 is exact in binary
    # multiplying by the rounded 2/28 instead is within one float32 ulp, not exact
    scaled = cassi.shift_back(y[None], scale=2 / 28).numpy()[0]
    assert np.max(np.abs(scaled - h)) <= np.max(np.abs(h)) * 2.0**-23
    # in float64 the measurement agrees with the exact sum to float32 rounding
    y64 = twins.measure_np(fixture["cube"].astype(np.float64), fixture["mask"])
    np.testing.assert_allclose(y64, y, rtol=1e-6, atol=1e-5)


def test_batched_tf_measure_matches_the_fixture(fixture):
    cube = np.stack([fixture["cube"], fixture["cube"][:, ::-1]])
    y = cassi.measure(cube, fixture["mask"]).numpy()
    np.testing.assert_array_equal(y[0], fixture["measurement"])
    np.testing.assert_array_equal(y[1], twins.measure_np(cube[1], fixture["mask"]))


# --------------------------------------------------------------------------- closed forms


@pytest.mark.parametrize("step", [0, 1, 2, 3])
def test_measure_matches_the_definition(rng, step):
    cube = rng.uniform(size=(3, 5, 4))
    mask = rng.uniform(size=(3, 5))
    expected = _measure_by_definition(cube, mask, step)
    np.testing.assert_allclose(cassi.measure(cube, mask, step).numpy(), expected, rtol=1e-14)
    np.testing.assert_allclose(twins.measure_np(cube, mask, step), expected, rtol=1e-14)
    # a 3-D mask equal on all bands is the same operator
    np.testing.assert_allclose(
        cassi.measure(cube, cassi.mask_3d(mask, 4), step).numpy(), expected, rtol=1e-14
    )


def test_disperse_shifts_band_n_by_dn(rng):
    cube = rng.uniform(size=(2, 3, 4, 5))
    out = cassi.disperse(cube, step=2).numpy()
    assert out.shape == (2, 3, 4 + 2 * 4, 5)
    for n in range(5):
        np.testing.assert_array_equal(out[..., 2 * n : 2 * n + 4, n], cube[..., n])
        assert np.count_nonzero(out[..., n]) == np.count_nonzero(cube[..., n])
    np.testing.assert_array_equal(twins.disperse_np(cube, 2), out)
    np.testing.assert_allclose(out.sum(-1), cassi.measure(cube, np.ones((3, 4)), 2).numpy(), rtol=1e-14)


def test_shift_back_reads_band_windows(rng):
    y = rng.uniform(size=(2, 4, 6 + 3 * 2))
    h = cassi.shift_back(y, bands=4, step=2).numpy()
    for n in range(4):
        np.testing.assert_array_equal(h[..., n], y[:, :, 2 * n : 2 * n + 6])
    np.testing.assert_array_equal(cassi.shift_back(y[0], bands=4, step=2).numpy(), h[0])  # unbatched
    np.testing.assert_array_equal(twins.shift_back_np(y, 4, 2), h)


def test_round_trip_without_overlap_recovers_the_masked_cube(rng):
    """With step >= W the bands do not overlap on the detector: A^T A X = M^2 X exactly."""
    cube = rng.uniform(size=(5, 6, 3))
    mask = rng.uniform(size=(5, 6))
    y = cassi.measure(cube, mask, step=6)
    back = cassi.shift_back(y, bands=3, step=6).numpy()
    np.testing.assert_array_equal(back, cube * mask[..., None])
    np.testing.assert_allclose(cassi.adjoint(y, mask, 3, 6).numpy(), cube * mask[..., None] ** 2, rtol=1e-15)


def test_round_trip_single_band_cube(rng):
    """A cube with only band n lit: the shift-back's band n is exactly M X_n."""
    cube = np.zeros((4, 7, 6))
    cube[..., 3] = rng.uniform(size=(4, 7))
    mask = rng.integers(0, 2, size=(4, 7)).astype(float)
    h = cassi.network_input(cassi.measure(cube, mask), bands=6).numpy()
    np.testing.assert_allclose(h[..., 3], cube[..., 3] * mask * 2 / 6, rtol=1e-15)


@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("step", [1, 2])
def test_adjoint_identity(rng, batched, step):
    shape = (2, 6, 9, 5) if batched else (6, 9, 5)
    x = rng.normal(size=shape)
    mask = rng.uniform(size=(6, 9))
    y = rng.normal(size=shape[:-2] + (9 + step * 4,))
    ax = cassi.measure(x, mask, step).numpy()
    aty = cassi.adjoint(y, mask, bands=5, step=step).numpy()
    lhs, rhs = np.vdot(ax, y), np.vdot(x, aty)
    assert lhs == pytest.approx(rhs, rel=1e-12)
    assert abs(lhs) > 1e-3  # not trivially zero
    np.testing.assert_allclose(twins.adjoint_np(y, mask, 5, step), aty, rtol=1e-15)


def test_gradient_of_the_forward_model_is_the_adjoint(rng):
    """d<A x, y>/dx = A^T y: autodiff through `measure` agrees with `adjoint`."""
    x = tf.constant(rng.normal(size=(2, 5, 7, 4)))
    mask = rng.uniform(size=(5, 7))
    y = rng.normal(size=(2, 5, 7 + 2 * 3))
    with tf.GradientTape() as tape:
        tape.watch(x)
        inner = tf.reduce_sum(cassi.measure(x, mask) * y)
    np.testing.assert_allclose(tape.gradient(inner, x).numpy(), twins.adjoint_np(y, mask, 4, 2), rtol=1e-14)


def test_adjoint_is_the_transpose_matrix(rng):
    """Build A column by column from unit cubes; adjoint(e_j) must be its transpose."""
    h, w, n, d = 2, 3, 3, 1
    mask = rng.uniform(size=(h, w))
    columns = []
    for j in range(h * w * n):
        e = np.zeros(h * w * n)
        e[j] = 1.0
        columns.append(twins.measure_np(e.reshape(h, w, n), mask, d).ravel())
    a = np.stack(columns, axis=1)
    columns_t = []
    for i in range(a.shape[0]):
        e = np.zeros(a.shape[0])
        e[i] = 1.0
        columns_t.append(cassi.adjoint(e.reshape(h, w + d * (n - 1)), mask, n, d).numpy().ravel())
    np.testing.assert_array_equal(np.stack(columns_t, axis=1), a.T)  # column i of A^T is A^T e_i


# --------------------------------------------------------------------------- masks


def test_random_mask_is_seeded_binary(rng):
    a, b = cassi.random_mask(64, seed=3), cassi.random_mask((64, 64), seed=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, cassi.random_mask(64, seed=4))
    assert set(np.unique(a)) == {0.0, 1.0}
    assert abs(a.mean() - 0.5) < 0.03  # 4096 Bernoulli(1/2): sd 0.008
    assert cassi.random_mask((10, 20), density=0.0).sum() == 0
    assert cassi.random_mask((10, 20), density=1.0).sum() == 200
    with pytest.raises(ValueError, match="density"):
        cassi.random_mask(8, density=1.5)


def test_mask_3d_repeats_the_mask(rng):
    mask = rng.uniform(size=(2, 5, 6))
    phi = cassi.mask_3d(mask, 7).numpy()
    assert phi.shape == (2, 5, 6, 7)
    for n in range(7):
        np.testing.assert_array_equal(phi[..., n], mask)
    np.testing.assert_array_equal(twins.mask_3d_np(mask, 7), phi)


def test_load_benchmark_and_real_masks(fixture):
    mask = io.load_mask(_cassi_data("mask_256.mat"))
    assert mask.shape == (256, 256) and mask.dtype == np.float32
    np.testing.assert_array_equal(mask, fixture["mask"])  # the fixture used the benchmark mask
    real = io.load_mask(_cassi_data("mask_real_660.mat"))
    assert real.shape == (660, 660) and 0 <= real.min() and real.max() <= 1


def test_load_mask_npy_png_and_v73(tmp_path, rng):
    import h5py
    from PIL import Image

    mask = (rng.uniform(size=(12, 10)) > 0.5).astype(np.float32)
    np.save(tmp_path / "m.npy", mask)
    np.testing.assert_array_equal(io.load_mask(tmp_path / "m.npy"), mask)
    Image.fromarray((mask * 255).astype(np.uint8)).save(tmp_path / "m.png")
    np.testing.assert_array_equal(io.load_mask(tmp_path / "m.png"), mask)
    with h5py.File(tmp_path / "m73.mat", "w", userblock_size=512) as f:
        f["mask"] = mask.T  # MATLAB v7.3 stores column-major: h5py sees the transpose
    np.testing.assert_array_equal(io.load_mask(tmp_path / "m73.mat"), mask)
    with pytest.raises(KeyError, match="m73.mat.*'other'"):
        io.load_mask(tmp_path / "m73.mat", key="other")
    np.save(tmp_path / "cube.npy", np.zeros((3, 4, 5)))
    with pytest.raises(ValueError, match="2-D"):
        io.load_mask(tmp_path / "cube.npy")


def test_real_measurement_shifts_back_to_660_square():
    meas = io.read_array(_cassi_data("real_meas_scene1.mat"), key="meas_real")
    assert meas.shape == (660, 714)
    h = cassi.shift_back(meas.astype(np.float32)).numpy()
    assert h.shape == (660, 660, 28)
    np.testing.assert_array_equal(h[:, :, 27], meas[:, 54:])


# --------------------------------------------------------------------------- shot noise


@pytest.mark.parametrize("level", [0.05, 0.5, 1.3])
def test_shot_noise_statistics_match_the_binomial_closed_form(level):
    bits, qe, size = 11, 0.4, 200_000
    y = tf.fill((size,), tf.constant(level, tf.float32))
    noisy = cassi.shot_noise(y, seed=[1, 2], bits=bits, quantum_efficiency=qe).numpy().astype(np.float64)
    n = np.floor(np.float64(np.float32(level)) * 2**bits / qe)
    mean, var = n * qe / 2**bits, n * qe * (1 - qe) / 4**bits
    assert abs(noisy.mean() - mean) < 5 * np.sqrt(var / size)
    assert noisy.var() == pytest.approx(var, rel=0.03)  # sd of the sample variance ~0.3% here
    np.testing.assert_array_equal(noisy * 2**bits, np.round(noisy * 2**bits))  # 11-bit levels
    twin = twins.shot_noise_np(np.full(size, level, np.float32), rng=0, bits=bits, quantum_efficiency=qe)
    assert abs(twin.mean() - mean) < 5 * np.sqrt(var / size)
    assert twin.var() == pytest.approx(var, rel=0.03)


def test_shot_noise_is_seeded_and_works_in_graphs(rng):
    y = tf.constant(rng.uniform(0, 1, size=(2, 8, 62)), tf.float32)
    a = cassi.shot_noise(y, [3, 4]).numpy()
    np.testing.assert_array_equal(a, cassi.shot_noise(y, [3, 4]).numpy())
    assert not np.array_equal(a, cassi.shot_noise(y, [3, 5]).numpy())
    graph = tf.function(lambda t: cassi.shot_noise(t, tf.constant([3, 4])))
    np.testing.assert_array_equal(graph(y).numpy(), a)
    assert a.dtype == np.float32 and a.shape == y.shape
    assert np.all(cassi.shot_noise(tf.zeros((5,)), [0, 0]).numpy() == 0)  # no light, no counts
    with pytest.raises(ValueError, match="quantum_efficiency"):
        cassi.shot_noise(y, [0, 0], quantum_efficiency=0)


# --------------------------------------------------------------------------- TF integration


def test_ops_run_inside_tf_data_and_tf_function(rng):
    cubes = rng.uniform(size=(3, 8, 8, 28)).astype(np.float32)
    mask = rng.uniform(size=(8, 8)).astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices(cubes).map(lambda c: cassi.simulate(c, mask).H)
    got = np.stack(list(ds.as_numpy_iterator()))
    expected = np.stack([twins.network_input_np(twins.measure_np(c, mask)) for c in cubes])
    np.testing.assert_array_equal(got, expected)
    fn = tf.function(lambda c: cassi.adjoint(cassi.measure(c, mask), mask))
    np.testing.assert_allclose(fn(cubes).numpy(), twins.adjoint_np(twins.measure_np(cubes, mask), mask), rtol=1e-6)


def test_ops_inside_a_keras_model(rng):
    mask = cassi.random_mask(8, seed=0)
    inp = tf.keras.Input((8, 8, 28))
    y = tf.keras.layers.Lambda(lambda c: cassi.measure(c, mask))(inp)
    model = tf.keras.Model(inp, tf.keras.layers.Lambda(cassi.network_input)(y))
    x = rng.uniform(size=(2, 8, 8, 28)).astype(np.float32)
    expected = twins.network_input_np(twins.measure_np(x, mask))
    np.testing.assert_array_equal(model(x).numpy(), expected)
    np.testing.assert_array_equal(model.predict(x, verbose=0), expected)  # graph mode


def test_scale_2_over_n_rounds_like_the_reference_in_graphs(rng):
    y = rng.uniform(0, 20, size=100_000).astype(np.float32)
    for bands in (28, 31, 7):
        reference = y / np.float32(bands) * np.float32(2)
        np.testing.assert_array_equal(tf.function(cassi.scale_2_over_n)(y, bands).numpy(), reference)
        np.testing.assert_array_equal(cassi.scale_2_over_n(y, bands).numpy(), reference)


def test_shift_back_layer_in_a_model_and_config(rng):
    inp = tf.keras.Input((8, 8 + 27 * 2))
    model = tf.keras.Model(inp, cassi.ShiftBack(28, 2, name="sb")(inp))
    y = rng.uniform(size=(2, 8, 62)).astype(np.float32)
    np.testing.assert_array_equal(model(y).numpy(), twins.shift_back_np(y))
    layer = cassi.ShiftBack(28, 2, scale=0.5, name="sb2", dtype="float64")
    assert cassi.ShiftBack.from_config(layer.get_config()).get_config() == layer.get_config()


# --------------------------------------------------------------------------- errors


def test_wrong_band_count_is_reported(rng):
    with pytest.raises(ValueError, match="expected 28 bands.*got 27"):
        cassi.measure(rng.uniform(size=(4, 4, 27)), np.ones((4, 4)), bands=28)
    with pytest.raises(ValueError, match="expected 28 bands.*got 27"):
        twins.measure_np(rng.uniform(size=(4, 4, 27)), np.ones((4, 4)), bands=28)
    with pytest.raises(ValueError, match="3-D mask has 5 bands, expected 6"):
        cassi.measure(rng.uniform(size=(4, 4, 6)), np.ones((4, 4, 5)))


def test_mask_size_mismatch_is_reported(rng):
    with pytest.raises(ValueError, match="expected a mask 8x8.*got width 9"):
        cassi.measure(rng.uniform(size=(8, 8, 3)), np.ones((8, 9)))
    with pytest.raises(ValueError, match="expected a mask 8x8"):
        twins.measure_np(rng.uniform(size=(8, 8, 3)), np.ones((7, 8)))
    with pytest.raises(ValueError, match="expected a mask 4x6"):
        cassi.simulate(rng.uniform(size=(4, 6, 3)), np.ones((6, 4)))
    with pytest.raises(ValueError, match="expected a mask"):
        cassi.adjoint(rng.uniform(size=(4, 10)), np.ones((4, 5)), bands=3, step=2)


def test_nan_and_bad_shapes_are_reported(rng):
    cube = rng.uniform(size=(4, 4, 3))
    cube[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match=r"cube must be finite.*1 NaN.*\(1, 2, 0\)"):
        cassi.measure(cube, np.ones((4, 4)))
    with pytest.raises(ValueError, match="cube must be finite"):
        twins.measure_np(cube, np.ones((4, 4)))
    with pytest.raises(ValueError, match="mask must be finite"):
        cassi.measure(np.ones((4, 4, 3)), np.full((4, 4), np.nan))
    with pytest.raises(ValueError, match="measurement must be finite"):
        cassi.network_input(np.full((4, 60), np.nan))
    with pytest.raises(ValueError, match=r"\(height, width, bands\).*got shape \(4, 4\)"):
        cassi.measure(np.ones((4, 4)), np.ones((4, 4)))
    with pytest.raises(ValueError, match="too narrow for 28 bands"):
        cassi.shift_back(np.ones((1, 4, 54)))
    with pytest.raises(ValueError, match="step"):
        cassi.measure(np.ones((4, 4, 3)), np.ones((4, 4)), step=-1)


def test_prepare_real_measurement_follows_reference():
    y = np.array([[-0.5, 0.25], [0.5, 2.0]])
    np.testing.assert_allclose(cassi.prepare_real_measurement(y), [[0.0, 0.2], [0.4, 0.8]])
    with pytest.raises(ValueError, match="all zeros"):
        cassi.prepare_real_measurement(np.zeros((2, 2)))
