"""MATLAB's bicubic imresize: against an independent per-pixel loop, hand-derived weights and its properties."""
import math

import numpy as np
import pytest
import tensorflow as tf

from larq_hsi.tasks.restoration import imresize as mr


# ---------------------------------------------------------------------------
# Independent reference: per-pixel loop over taps with mirrored indices.
# ---------------------------------------------------------------------------

def _keys(t):
    t = abs(t)
    if t <= 1:
        return 1.5 * t ** 3 - 2.5 * t ** 2 + 1
    if t <= 2:
        return -0.5 * t ** 3 + 2.5 * t ** 2 - 4 * t + 2
    return 0.0


def _mirror(i, n):  # 1-based MATLAB aux = [1:n, n:-1:1] with mod indexing
    period = list(range(1, n + 1)) + list(range(n, 0, -1))
    return period[(i - 1) % (2 * n)]


def _taps(n_in, n_out, s):
    """List (per output pixel) of (1-based input index, weight)."""
    res = []
    for x in range(1, n_out + 1):
        u = x / s + 0.5 * (1 - 1 / s)
        if s < 1:
            width = 4 / s
            def h(t):
                return s * _keys(s * t)
        else:
            width = 4
            h = _keys
        left = math.floor(u - width / 2)
        pairs = [(j, h(u - j)) for j in range(left, left + math.ceil(width) + 2)]
        tot = sum(w for _, w in pairs)
        res.append([(_mirror(j, n_in), w / tot) for j, w in pairs])
    return res


def _reference_resize(img, s):
    H, W, C = img.shape
    oh, ow = math.ceil(round(s * H, 9)), math.ceil(round(s * W, 9))
    th, tw = _taps(H, oh, s), _taps(W, ow, s)
    out = np.zeros((oh, ow, C))
    for i in range(oh):
        for j in range(ow):
            acc = np.zeros(C)
            for a, wa in th[i]:
                for b, wb in tw[j]:
                    acc += wa * wb * img[a - 1, b - 1]
            out[i, j] = acc
    return out


@pytest.mark.parametrize("s", [0.5, 1 / 3, 2, 3])
def test_against_loop_reference(s):
    rng = np.random.default_rng(0)
    img = rng.random((7, 9, 2))
    got = mr.imresize(img, s).numpy()
    ref = _reference_resize(img, s)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------
# Hand-computed small cases
# ---------------------------------------------------------------------------
# Keys a=-0.5 at the offsets that occur for scale 2 (u = x/2 + 1/4):
#   k(0.25) = 1.5/64 - 2.5/16 + 1           = 111/128
#   k(0.75) = 1.5*27/64 - 2.5*9/16 + 1       =  29/128
#   k(1.25) = -0.5*125/64 + 2.5*25/16 - 5 + 2 = -9/128
#   k(1.75) = -0.5*343/64 + 2.5*49/16 - 7 + 2 = -3/128
# Mirrored extension of s1..s4: s0 = s1, s(-1) = s2, s5 = s4, s6 = s3.

def test_upscale_length4_by2_hand_weights():
    s1, s2, s3, s4 = 0.1, 0.7, 0.4, 0.9
    sig = np.array([s1, s2, s3, s4])
    expected = np.array([
        (140 * s1 - 12 * s2) / 128,                     # u=0.75 taps -1..2
        (102 * s1 + 29 * s2 - 3 * s3) / 128,            # u=1.25 taps 0..3
        (26 * s1 + 111 * s2 - 9 * s3) / 128,            # u=1.75
        (-9 * s1 + 111 * s2 + 29 * s3 - 3 * s4) / 128,  # u=2.25 taps 1..4
        (-3 * s1 + 29 * s2 + 111 * s3 - 9 * s4) / 128,  # u=2.75
        (-9 * s2 + 111 * s3 + 26 * s4) / 128,           # u=3.25 taps 2..5
        (-3 * s2 + 29 * s3 + 102 * s4) / 128,           # u=3.75
        (-12 * s3 + 140 * s4) / 128,                    # u=4.25 taps 3..6
    ])
    # As a column image (4, 1, 1) -> (8, 1 [width: 1 -> 2], 1); width axis
    # must also be resized by 2, constant along it.
    got = mr.imresize(sig[:, None, None], 2).numpy()
    assert got.shape == (8, 2, 1)
    np.testing.assert_allclose(got[:, 0, 0], expected, atol=1e-15)
    np.testing.assert_allclose(got[:, 1, 0], expected, atol=1e-15)
    # Weight matrix itself
    M = mr.resize_weights(4, 8, 2.0)
    np.testing.assert_allclose(M[0], [140 / 128, -12 / 128, 0, 0], atol=1e-15)
    np.testing.assert_allclose(M[3], [-9 / 128, 111 / 128, 29 / 128, -3 / 128], atol=1e-15)


def test_downscale_length4_by_half_hand_weights():
    # scale 1/2: h(t) = 0.5 k(t/2), width 8, u = 2x - 1/2 -> 1.5, 3.5.
    # Offsets +-0.5, +-1.5, +-2.5, +-3.5 -> (111, 29, -9, -3)/256 each side,
    # they sum to 1.  For u = 1.5 taps -2..5 -> mirrored 3,2,1,1,2,3,4,4.
    M = mr.resize_weights(4, 2, 0.5)
    np.testing.assert_allclose(M[0], np.array([140, 102, 26, -12]) / 256, atol=1e-15)
    np.testing.assert_allclose(M[1], np.array([-12, 26, 102, 140]) / 256, atol=1e-15)


def test_output_size_ceil():
    assert mr.imresize(np.zeros((5, 5, 1)), 0.5).shape == (3, 3, 1)
    assert mr.imresize(np.zeros((5, 7, 1)), 1 / 3).shape == (2, 3, 1)
    assert mr.imresize(np.zeros((5, 7, 1)), 1.5).shape == (8, 11, 1)
    # float error in 1/5 must not bump 255/5 = 51 to 52
    assert mr.output_length(255, 1 / 5) == 51
    assert mr.output_length(49, 1 / 49) == 1
    assert mr.imresize(np.zeros((6, 4, 1)), output_size=(3, 10)).shape == (3, 10, 1)


def test_weights_rows_sum_to_one():
    for n_in, s in [(7, 0.5), (9, 1 / 3), (5, 2.0), (11, 1.7), (13, 0.37), (1, 3.0)]:
        M = mr.resize_weights(n_in, mr.output_length(n_in, s), s)
        np.testing.assert_allclose(M.sum(axis=1), 1.0, atol=1e-13)


def test_weights_cached():
    a = mr.resize_weights(10, 5, 0.5)
    b = mr.resize_weights(10, 5, 0.5)
    assert a is b and not a.flags.writeable


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("s", [0.25, 1 / 3, 0.5, 0.7, 1.0, 1.5, 2, 3, 4])
def test_constant_stays_constant(s):
    img = np.full((12, 10, 3), 0.4217)
    out = mr.imresize(img, s).numpy()
    np.testing.assert_allclose(out, 0.4217, atol=1e-13)


def _interior(n_in, n_out, s, width):
    x = np.arange(1, n_out + 1)
    u = x / s + 0.5 * (1 - 1 / s)
    return (u - width / 2 >= 1) & (u + width / 2 <= n_in)


@pytest.mark.parametrize("s", [2, 3, 2.5, 1.3])
def test_upscale_reproduces_quadratic_in_interior(s):
    n = 20
    t = np.arange(1, n + 1, dtype=np.float64)
    f = lambda z: 0.3 + 0.05 * z - 0.002 * z ** 2  # noqa: E731
    out = mr.imresize(f(t)[:, None, None], s).numpy()[:, 0, 0]
    u = np.arange(1, len(out) + 1) / s + 0.5 * (1 - 1 / s)
    m = _interior(n, len(out), s, 4)
    assert m.sum() > 10
    np.testing.assert_allclose(out[m], f(u[m]), atol=1e-12)


@pytest.mark.parametrize("s", [2, 3])
def test_upscale_ramp_linear_in_interior_2d(s):
    H, W = 10, 12
    ii, jj = np.meshgrid(np.arange(1, H + 1), np.arange(1, W + 1), indexing="ij")
    img = (0.1 + 0.02 * ii + 0.03 * jj)[..., None].astype(np.float64)
    out = mr.imresize(img, s).numpy()[..., 0]
    ui = np.arange(1, out.shape[0] + 1) / s + 0.5 * (1 - 1 / s)
    uj = np.arange(1, out.shape[1] + 1) / s + 0.5 * (1 - 1 / s)
    mi, mj = _interior(H, out.shape[0], s, 4), _interior(W, out.shape[1], s, 4)
    expected = 0.1 + 0.02 * ui[:, None] + 0.03 * uj[None, :]
    np.testing.assert_allclose(out[np.ix_(mi, mj)], expected[np.ix_(mi, mj)], atol=1e-12)


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_downscale_ramp_linear_in_interior(factor):
    s = 1 / factor
    n = 48
    t = np.arange(1, n + 1, dtype=np.float64)
    col = np.repeat((0.2 + 0.01 * t)[:, None, None], factor, axis=1)  # width >= 1/s
    out = mr.imresize(col, s).numpy()[:, 0, 0]
    u = np.arange(1, len(out) + 1) / s + 0.5 * (1 - 1 / s)
    m = _interior(n, len(out), s, 4 / s)
    assert m.sum() >= 3
    np.testing.assert_allclose(out[m], 0.2 + 0.01 * u[m], atol=1e-12)


def test_dtypes_kept():
    rng = np.random.default_rng(1)
    x = rng.random((6, 8, 3))
    y64 = mr.imresize(x, 0.5)
    assert y64.dtype == tf.float64
    assert mr.imresize(tf.constant(x), 2).dtype == tf.float64
    y32 = mr.imresize(x.astype(np.float32), 0.5)
    assert y32.dtype == tf.float32
    np.testing.assert_allclose(y32.numpy(), y64.numpy(), atol=1e-6)
    assert mr.imresize(x.astype(np.float16), 2).dtype == tf.float16


def test_batch_matches_single():
    rng = np.random.default_rng(2)
    x = rng.random((3, 7, 9, 2))
    yb = mr.imresize(x, 1 / 3).numpy()
    for b in range(3):
        np.testing.assert_allclose(yb[b], mr.imresize(x[b], 1 / 3).numpy(), atol=1e-14)


def test_unequal_scales_and_order_equivalence():
    rng = np.random.default_rng(3)
    x = rng.random((8, 9, 1))
    y = mr.imresize(x, (0.5, 2)).numpy()
    assert y.shape == (4, 18, 1)
    Mh = mr.resize_weights(8, 4, 0.5)
    Mw = mr.resize_weights(9, 18, 2.0)
    np.testing.assert_allclose(y[..., 0], Mh @ x[..., 0] @ Mw.T, atol=1e-13)


def test_graph_and_tf_data_dynamic_shapes():
    rng = np.random.default_rng(4)
    imgs = [rng.random((8, 12, 3)).astype(np.float32), rng.random((6, 9, 3)).astype(np.float32)]
    ds = tf.data.Dataset.from_generator(
        lambda: iter(imgs), output_signature=tf.TensorSpec((None, None, 3), tf.float32))
    ds = ds.map(lambda im: mr.imresize(im, 0.5))
    for got, im in zip(ds, imgs):
        np.testing.assert_allclose(got.numpy(), mr.imresize(im, 0.5).numpy(), atol=1e-6)

    @tf.function(input_signature=[tf.TensorSpec((2, 8, 12, 3), tf.float64)])
    def f(t):
        return mr.imresize(t, 3)
    x = rng.random((2, 8, 12, 3))
    np.testing.assert_allclose(f(tf.constant(x)).numpy(), mr.imresize(x, 3).numpy(), atol=1e-14)


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,match", [
    (dict(scale=0), "positive"),
    (dict(scale=-2), "positive"),
    (dict(scale=float("nan")), "positive"),
    (dict(), "exactly one"),
    (dict(scale=2, output_size=(4, 4)), "exactly one"),
    (dict(output_size=(0, 4)), "positive integers"),
    (dict(output_size=(2.5, 4)), "positive integers"),
    (dict(output_size=4), "pair"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mr.imresize(np.zeros((4, 4, 1)), **kwargs)


@pytest.mark.parametrize("shape", [(4, 4), (1, 1, 4, 4, 1), (4,)])
def test_bad_rank(shape):
    with pytest.raises(ValueError, match="rank"):
        mr.imresize(np.zeros(shape), 2)


def test_image_smaller_than_scale():
    # 2x2 at 1/4 would be ceil(0.5) = 1 pixel in MATLAB: refused here.
    with pytest.raises(ValueError, match="smaller than one output pixel"):
        mr.imresize(np.zeros((2, 2, 1)), 0.25)
    # explicit output_size still allowed (MATLAB-like 1x1 weighted mean)
    out = mr.imresize(np.full((2, 2, 1), 0.5), output_size=(1, 1)).numpy()
    np.testing.assert_allclose(out, 0.5)


def test_nan_and_int_input():
    x = np.zeros((4, 4, 1))
    x[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        mr.imresize(x, 2)
    with pytest.raises(ValueError, match="float"):
        mr.imresize(np.zeros((4, 4, 1), np.uint8), 2)
