"""Pan-sharpening metrics: closed forms of CC, Q and QNR; Table 1's evaluation; Table 2's full-resolution metrics."""

import math

import numpy as np
import pytest
import tensorflow as tf

from larq_hsi import metrics as M
from larq_hsi.tasks.pansharpening import evaluate as E
from larq_hsi.tasks.pansharpening.simulate import simulate

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
    sample = simulate(rng.uniform(0.1, 1.0, size=(2, 16, 16, 4)), ratio=4)
    result = E.evaluate_model(sample["gt"], sample)
    bicubic = result.pop("bicubic")
    assert result == {"PSNR": math.inf, "CC": 1.0, "SSIM": pytest.approx(1.0), "SAM": 0.0, "ERGAS": 0.0}
    # The bicubic baseline of blurred, decimated noise is far from ideal.
    assert bicubic["PSNR"] < 30 and bicubic["ERGAS"] > 1 and bicubic["CC"] < 0.9
    assert "bicubic" not in E.evaluate_model(sample["gt"], sample, baseline=False)


def test_the_bicubic_baseline_is_the_metrics_of_lms(rng):
    sample = simulate(rng.uniform(0.1, 1.0, size=(2, 32, 32, 5)), ratio=4)
    gt, lms = sample["gt"], sample["lms"]
    result = E.evaluate_model(0.9 * gt, sample)
    direct = {
        "PSNR": float(np.mean(M.psnr(gt, lms))), "CC": float(np.mean(M.cc(gt, lms))),
        "SSIM": float(np.mean(M.ssim(gt, lms))), "SAM": float(np.mean(M.sam(gt, lms))),
        "ERGAS": float(np.mean(M.ergas(gt, lms, ratio=4))),
    }
    assert result["bicubic"] == pytest.approx(direct, rel=1e-6)
    # Scoring lms as the prediction gives the same numbers; the model's own are different.
    scored = E.evaluate_model(lms, sample, baseline=False)
    assert scored == pytest.approx(direct, rel=1e-6)
    assert result["PSNR"] != pytest.approx(direct["PSNR"], rel=1e-3)
    # Without lms in the sample, the baseline upsamples ms bicubically, as simulate does.
    without = E.evaluate_model(0.9 * gt, {k: v for k, v in sample.items() if k != "lms"})
    assert without["bicubic"] == pytest.approx(direct, rel=1e-5)
    one = E.evaluate_model(gt[0], {k: v[0] for k, v in sample.items() if k != "lms"})
    assert one["bicubic"]["PSNR"] == pytest.approx(float(M.psnr(gt[0], lms[0])), rel=1e-5)


def test_evaluate_scaled_reference_gives_closed_forms(rng, tmp_path):
    gt = rng.uniform(0.1, 1.0, size=(2, 16, 16, 4)).astype("float64")
    sample = simulate(gt, ratio=4)
    gt = sample["gt"].astype("float64")
    result = E.evaluate_model(1.1 * gt, sample, out_dir=tmp_path)
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
    sample = simulate(rng.uniform(0.2, 1.0, size=(1, 32, 32, 3)), ratio=4)
    out = E.full_resolution_metrics(sample["lms"], {k: sample[k] for k in ("ms", "pan")}, block_size=8)
    assert set(out) == {"D_lambda", "D_s", "QNR"}
    assert 0 <= out["D_lambda"] < 1 and 0 <= out["D_s"] < 1
    assert out["QNR"] == pytest.approx((1 - out["D_lambda"]) * (1 - out["D_s"]))
