"""Wald's-protocol simulation, readers, pan-sharpening metrics, the optimiser and the training recipe."""

import math

import h5py
import numpy as np
import pytest
import scipy.io
import scipy.ndimage
import tensorflow as tf

from larq_hsi import metrics as M
from larq_hsi import optim
from larq_hsi import pansharpening as P
from larq_hsi.models.hsbinet import HSBiNet

# --------------------------------------------------------------------------- simulation


def test_mtf_sigma_gives_the_nyquist_gain():
    for ratio, gain in ((4, 0.3), (6, 0.25)):
        sigma = P.mtf_sigma(ratio, gain)
        # Frequency response of a Gaussian of std sigma at the LR Nyquist 1/(2 ratio).
        assert math.exp(-2 * math.pi**2 * sigma**2 / (2 * ratio) ** 2) == pytest.approx(gain)


def test_simulate_blurs_decimates_and_builds_the_pan(rng):
    ref = rng.uniform(size=(2, 18, 17, 3)).astype("float32")
    srf = np.array([1.0, 2.0, 1.0])
    out = P.simulate(ref, ratio=4, sigma=1.5, kernel_size=7, srf=srf, phase=1)
    gt = ref[:, :16, :16]  # cropped to a multiple of the ratio
    np.testing.assert_array_equal(out["gt"], gt)
    # Independent blur: scipy's Gaussian, 'mirror' = tf.pad REFLECT, radius 3.
    blurred = scipy.ndimage.gaussian_filter(gt.astype("float64"), sigma=(0, 1.5, 1.5, 0), mode="mirror", truncate=2.0)
    np.testing.assert_allclose(out["ms"], blurred[:, 1::4, 1::4], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["pan"][..., 0], (gt[..., 0] + 2 * gt[..., 1] + gt[..., 2]) / 4, rtol=1e-6)
    assert out["lms"].shape == gt.shape and out["pan"].shape == (2, 16, 16, 1)
    np.testing.assert_allclose(out["lms"], tf.image.resize(out["ms"], (16, 16), method="bicubic").numpy())


def test_simulate_keeps_constants_and_single_images():
    ref = np.ones((8, 8, 2), "float32") * np.array([0.2, 0.6], "float32")
    out = P.simulate(ref, ratio=2)
    assert out["ms"].shape == (4, 4, 2)
    np.testing.assert_allclose(out["ms"], np.broadcast_to([0.2, 0.6], (4, 4, 2)), rtol=1e-6)
    np.testing.assert_allclose(out["pan"], 0.4, rtol=1e-6)  # default flat response: the band mean
    with pytest.raises(ValueError, match="one response per band"):
        P.simulate(ref, srf=[1, 2, 3])
    with pytest.raises(ValueError, match="ratio must be an integer"):
        P.simulate(ref, ratio=0)


def test_default_spectral_response():
    np.testing.assert_allclose(P.default_spectral_response(4), 0.25)
    lam = np.array([400.0, 500.0, 800.0, 1000.0])
    np.testing.assert_allclose(P.default_spectral_response(4, lam), [0, 0.5, 0.5, 0])


def test_extract_patches_are_aligned():
    sample = P.simulate(np.random.default_rng(0).uniform(size=(1, 24, 32, 2)), ratio=4)
    patches = P.extract_patches(sample, pan_size=16, stride=8)
    assert patches["pan"].shape == (2 * 3, 16, 16, 1) and patches["ms"].shape == (6, 4, 4, 2)
    # Patch (row 1, column 2): PAN from (8, 16), HS from (2, 4).
    k = 1 * 3 + 2
    np.testing.assert_array_equal(patches["pan"][k], sample["pan"][0, 8:24, 16:32])
    np.testing.assert_array_equal(patches["gt"][k], sample["gt"][0, 8:24, 16:32])
    np.testing.assert_array_equal(patches["ms"][k], sample["ms"][0, 2:6, 4:8])
    with pytest.raises(ValueError, match="multiples of the ratio 4"):
        P.extract_patches(sample, pan_size=16, stride=6)
    with pytest.raises(ValueError, match="expected ratio 2"):
        P.extract_patches(sample, ratio=2)


def test_synthetic_pansharpening_uses_the_data_generator():
    s = P.synthetic_pansharpening(count=2, size=32, bands=5, ratio=4, seed=3)
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
    loaded = P.load_pansharpening(path, ratio=4, scale=2047.0)
    for k, v in sample.items():
        np.testing.assert_allclose(loaded[k], v, rtol=1e-6)


def test_reads_channels_last_mat_and_recomputes_lms(tmp_path, rng):
    sample = {k: v[0] for k, v in _sample(rng, bands=2).items() if k != "lms"}
    sample["pan"] = sample["pan"][..., 0]  # a 2-D PAN
    path = tmp_path / "test.mat"
    scipy.io.savemat(path, sample)
    loaded = P.load_pansharpening(path)
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
        P.load_pansharpening(path)
    path = tmp_path / "ratio.h5"
    with h5py.File(path, "w") as f:
        f["ms"], f["pan"] = sample["ms"], sample["pan"]
    with pytest.raises(ValueError, match=r"ratio\.h5: expected ratio 6, but .* gives ratio 4"):
        P.load_pansharpening(path, ratio=6)
    path = tmp_path / "odd.h5"
    with h5py.File(path, "w") as f:
        f["ms"], f["pan"] = sample["ms"][:, :3], sample["pan"]
    with pytest.raises(ValueError, match=r"odd\.h5: the PAN size 16x16 is not an integer multiple"):
        P.load_pansharpening(path)
    path = tmp_path / "gt.h5"
    with h5py.File(path, "w") as f:
        f["ms"], f["pan"], f["gt"] = sample["ms"], sample["pan"], sample["gt"][..., :2]
    with pytest.raises(ValueError, match=r"gt\.h5: gt must be the PAN size"):
        P.load_pansharpening(path)
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        P.load_pansharpening(tmp_path / "nope.h5")


def test_simulate_from_raw_cube_file(tmp_path, rng):
    path = tmp_path / "cube.npy"
    np.save(path, rng.uniform(size=(20, 20, 3)).astype("float32"))
    out = P.simulate_from_file(path, ratio=4)
    assert out["gt"].shape == (20, 20, 3) and out["ms"].shape == (5, 5, 3)


# --------------------------------------------------------------------------- metrics


def test_cc_closed_forms(rng):
    x = rng.uniform(size=(6, 5, 2))
    assert float(M.cc(x, x)) == pytest.approx(1.0)
    assert float(M.cc(x, 3 * x + 1)) == pytest.approx(1.0)
    np.testing.assert_allclose(M.cc(x[None], -x[None]).numpy(), [-1.0])
    # y = x + n with n zero-mean, orthogonal to x - mean(x) and as large: correlation 1/sqrt(2).
    a = np.array([1.0, -1.0, 1.0, -1.0]).reshape(2, 2, 1)
    n = np.array([1.0, 1.0, -1.0, -1.0]).reshape(2, 2, 1)
    assert float(M.cc(a, a + n)) == pytest.approx(1 / math.sqrt(2))


def test_evaluate_identity_gives_table_1_ideal_values(rng):
    sample = P.simulate(rng.uniform(0.1, 1.0, size=(2, 16, 16, 4)), ratio=4)
    result = P.evaluate(sample["gt"], sample)
    assert result == {"PSNR": math.inf, "CC": 1.0, "SSIM": pytest.approx(1.0), "SAM": 0.0, "ERGAS": 0.0}


def test_evaluate_scaled_reference_gives_closed_forms(rng, tmp_path):
    gt = rng.uniform(0.1, 1.0, size=(2, 16, 16, 4)).astype("float64")
    sample = P.simulate(gt, ratio=4)
    gt = sample["gt"].astype("float64")
    result = P.evaluate(1.1 * gt, sample, out_dir=tmp_path)
    mse = (0.01 * gt**2).mean(axis=(1, 2, 3))
    assert result["PSNR"] == pytest.approx(np.mean(10 * np.log10(1 / mse)), rel=1e-5)
    assert result["CC"] == pytest.approx(1.0, abs=1e-6)
    assert result["SAM"] == pytest.approx(0.0, abs=0.02)  # same spectral direction
    rel = 0.1 * np.sqrt((gt**2).mean(axis=(1, 2))) / gt.mean(axis=(1, 2))
    assert result["ERGAS"] == pytest.approx(np.mean(100 / 4 * np.sqrt((rel**2).mean(-1))), rel=1e-5)
    for path in result["figures"].values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _positive_image(rng, shape):
    return 1.0 + 0.5 * rng.uniform(size=shape)


def test_q_index_of_a_scaled_image(rng):
    x = tf.constant(_positive_image(rng, (1, 12, 12, 1)))
    for a in (1.0, 2.0, 0.5):
        q = M.q_index_map(x, a * x, block_size=4).numpy()
        np.testing.assert_allclose(q, 4 * a**2 / (1 + a**2) ** 2, rtol=1e-10)


def test_qnr_ideal_and_known_distortions(rng):
    base_hr = _positive_image(rng, (16, 16))
    base_lr = _positive_image(rng, (4, 4))
    c = np.array([1.0, 1.5, 0.7])
    # Bands proportional to one image at both scales, PAN likewise: no distortion.
    fused, ms = base_hr[..., None] * c, base_lr[..., None] * c
    ideal = M.qnr(fused, ms, base_hr[..., None], block_size=4, pan_lr=base_lr[..., None])
    assert float(ideal["D_lambda"]) == pytest.approx(0, abs=1e-12)
    assert float(ideal["D_s"]) == pytest.approx(0, abs=1e-12)
    assert float(ideal["QNR"]) == pytest.approx(1.0)
    # Two equal LR bands (Q = 1) fused into f and 2f (Q = 4*4/25): D_lambda = 9/25.
    ms2 = np.stack([base_lr, base_lr], -1)
    fused2 = np.stack([base_hr, 2 * base_hr], -1)
    assert float(M.d_lambda(fused2, ms2, block_size=4)) == pytest.approx(9 / 25)
    # Every fused band = 2 P while the LR bands equal P_LR: D_s = 1 - 16/25.
    result = M.qnr(fused2 * [2, 1], ms2, base_hr[..., None], block_size=4, pan_lr=base_lr[..., None])
    assert float(result["D_s"]) == pytest.approx(9 / 25)
    assert float(result["QNR"]) == pytest.approx((1 - float(result["D_lambda"])) * (16 / 25))
    with pytest.raises(ValueError, match="pan must be one band at the size of fused"):
        M.d_s(fused, ms, base_lr[..., None])


def test_full_resolution_metrics_default_degradation(rng):
    sample = P.simulate(rng.uniform(0.2, 1.0, size=(1, 32, 32, 3)), ratio=4)
    out = P.full_resolution_metrics(sample["lms"], {k: sample[k] for k in ("ms", "pan")}, block_size=8)
    assert set(out) == {"D_lambda", "D_s", "QNR"}
    assert 0 <= out["D_lambda"] < 1 and 0 <= out["D_s"] < 1
    assert out["QNR"] == pytest.approx((1 - out["D_lambda"]) * (1 - out["D_s"]))


# --------------------------------------------------------------------------- optimiser


def _np_adam(grads, w0, lr, wd, b1=0.9, b2=0.999, eps=1e-8):
    """Keras's Adam on g + wd * w, step by step."""
    w, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    for t, g in enumerate(grads, start=1):
        g = g + wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * math.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
    return w


def test_coupled_weight_decay_is_adam_on_the_decayed_gradient(rng):
    w0, a0 = rng.normal(size=5), rng.normal(size=3)
    w, a = tf.Variable(w0), tf.Variable(a0)
    opt = optim.CoupledWeightDecayAdam(0.01, weight_decay=0.5, exclude=[a])
    reference = tf.keras.optimizers.Adam(0.01, epsilon=1e-8)
    w_ref = tf.Variable(w0)
    gw = [rng.normal(size=5) for _ in range(3)]
    ga = [rng.normal(size=3) for _ in range(3)]
    for g1, g2 in zip(gw, ga):
        opt.apply_gradients([(tf.constant(g1), w), (tf.constant(g2), a)])
        reference.apply_gradients([(tf.constant(g1) + 0.5 * w_ref, w_ref)])
    # Keras keeps the learning rate and betas in float32: 1e-5 relative agreement with float64 NumPy.
    np.testing.assert_allclose(w.numpy(), _np_adam(gw, w0, 0.01, 0.5), rtol=1e-5)
    np.testing.assert_allclose(w.numpy(), w_ref.numpy(), rtol=1e-12)
    np.testing.assert_allclose(a.numpy(), _np_adam(ga, a0, 0.01, 0.0), rtol=1e-5)
    # ... and the decay is visible: without it the weights would differ by far more.
    assert np.abs(w.numpy() - _np_adam(gw, w0, 0.01, 0.0)).max() > 1e-3


def test_paper_optimizer_excludes_exactly_the_estimator_parameters():
    model = HSBiNet(bands=3, ratio=2, hidden=4, num_blocks=0, input_size=(2, 2))
    opt = optim.paper_optimizer(model, steps_per_epoch=10)
    excluded = {v.name for v in model.trainable_variables if not opt.decays(v)}
    quantizer = {v.name for v in model.trainable_variables if v.name.endswith(("/alpha:0", "/lambda:0"))}
    assert excluded == quantizer and quantizer
    assert opt.decays(model.get_layer("fusion.binary_conv").kernel)
    btm = HSBiNet(bands=3, ratio=2, hidden=4, num_blocks=0, input_size=(2, 2), estimator="btm")
    # BTM has no estimator parameters: everything decays, PReLU slopes ("alpha") included.
    assert all(optim.paper_optimizer(btm, 10).decays(v) for v in btm.trainable_variables)


def test_cosine_warm_restarts_schedule():
    schedule = optim.cosine_warm_restarts(steps_per_epoch=10, learning_rate=1e-3, t0_epochs=5, t_mult=2,
                                          min_learning_rate=1e-5)
    mid = (1e-3 + 1e-5) / 2
    assert float(schedule(0)) == pytest.approx(1e-3)
    assert float(schedule(25)) == pytest.approx(mid)  # half of the first 50-step cycle
    assert float(schedule(49.999)) == pytest.approx(1e-5, rel=1e-3)
    assert float(schedule(50)) == pytest.approx(1e-3)  # restart
    assert float(schedule(100)) == pytest.approx(mid)  # half of the second, 100-step cycle
    assert float(schedule(150)) == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        optim.cosine_warm_restarts(0)


# --------------------------------------------------------------------------- training


def test_train_runs_the_recipe_on_synthetic_patches():
    data = P.extract_patches(P.synthetic_pansharpening(count=1, size=32, bands=4, ratio=4, seed=1), pan_size=16)
    model = HSBiNet(bands=4, ratio=4, hidden=4, num_blocks=1, input_size=(4, 4), seed=0)
    before = [w.numpy().copy() for w in model.trainable_weights]
    history = P.train(model, data, epochs=2, batch_size=4)
    assert isinstance(model.optimizer, optim.CoupledWeightDecayAdam)
    assert model.optimizer.iterations.numpy() == 2  # 4 patches, batch 4, 2 epochs
    assert {"loss", "psnr", "cc", "sam", "ergas"} <= set(history.history)
    assert np.all(np.isfinite(history.history["loss"]))
    assert any(not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights))
    lam = model.get_layer("fusion.binary_conv").input_quantizer.lam.numpy()
    assert 0 <= lam <= 1
    # The L1 loss the model reports is the mean absolute error of its predictions.
    pred = model([data["ms"], data["pan"]], training=False).numpy()
    mae = np.mean(np.abs(pred - data["gt"]))
    assert model.evaluate([data["ms"], data["pan"]], data["gt"], verbose=0)[0] == pytest.approx(mae, rel=1e-5)
