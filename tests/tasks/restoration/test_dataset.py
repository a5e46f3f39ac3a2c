"""Restoration data: the bundled photographs and the seeded training pairs (SR, denoising, JPEG)."""

import numpy as np
import pytest

from larq_hsi.io import to_grayscale
from larq_hsi.tasks.restoration.dataset import restoration_training_data, sample_images
from larq_hsi.tasks.restoration.degrade import bicubic_downscale, jpeg_compress, modcrop

# ----------------------------------------------------------------------------- bundled photographs


def test_sample_images_are_real_photographs(photos):
    assert [p.shape for p in photos] == [(512, 512, 3), (400, 600, 3), (300, 451, 3)]
    for p in photos:
        assert p.dtype == np.float32 and 0.0 <= p.min() and p.max() <= 1.0
        assert np.all(np.abs(p * 255 - np.round(p * 255)) < 1e-4)  # 8-bit levels
        assert p.std() > 0.1  # not flat
    (gray,) = sample_images(("camera",), channels=1)
    assert gray.shape == (512, 512, 1)
    with pytest.raises(ValueError, match="unknown image"):
        sample_images(("lena",))


# ----------------------------------------------------------------------------- training pairs


def _dihedral(a):
    """The 8 rotations/flips of an (H, W, C) array, as the pipeline draws them."""
    for k in range(4):
        r = np.rot90(a, k)
        yield r
        yield r[:, ::-1]


def _find(window, image):
    """Positions (top, left) where `window` occurs exactly in `image`."""
    p, q = window.shape[:2]
    return [
        (t, l)
        for t in range(image.shape[0] - p + 1)
        for l in range(image.shape[1] - q + 1)
        if np.array_equal(image[t : t + p, l : l + q], window)
    ]


def test_sr_pairs_are_aligned_crops_of_the_downscaled_image(rng):
    images = [rng.uniform(size=(24, 30, 3)).astype("float32"), rng.uniform(size=(27, 21, 3)).astype("float32")]
    ds = restoration_training_data(images, "sr", 3, crop_size=12, batch_size=4, seed=1, samples=8)
    hr_full = [modcrop(im, 3).numpy() for im in images]
    lr_full = [bicubic_downscale(im, 3).numpy() for im in hr_full]
    count = 0
    for lq, hq in ds:
        assert lq.shape == (4, 4, 4, 3) and hq.shape == (4, 12, 12, 3)
        for a, b in zip(lq.numpy(), hq.numpy()):
            # undo the (shared) rotation/flip and find the LQ window; the HQ window sits at 3x its position
            found = False
            for inv_a, inv_b in zip(_dihedral(a), _dihedral(b)):
                for k in range(2):
                    for t, l in _find(inv_a, lr_full[k]):
                        found |= np.array_equal(hr_full[k][3 * t : 3 * t + 12, 3 * l : 3 * l + 12], inv_b)
            assert found
            count += 1
    assert count == 8


@pytest.mark.parametrize("sigmas", [25, (15, 50)])
def test_denoise_pairs(sigmas, photos):
    ds = restoration_training_data(photos, "denoise", sigmas, crop_size=32, batch_size=8, seed=0, samples=16)
    stds = []
    for noisy, clean in ds:
        assert noisy.shape == clean.shape == (8, 32, 32, 3)
        stds += list(np.std((noisy - clean).numpy(), axis=(1, 2, 3)) * 255)
    levels = (sigmas,) if isinstance(sigmas, int) else sigmas
    for s in stds:  # each patch carries one of the levels (3072 samples: ~1.3 % standard error)
        assert min(abs(s / level - 1) for level in levels) < 0.06
    if len(levels) > 1:
        assert {min(levels, key=lambda v: abs(s - v)) for s in stds} == set(levels)


def test_jpeg_pairs_match_jpeg_compress(photos):
    gray = [to_grayscale(p) for p in photos]
    ds = restoration_training_data(gray, "jpeg", (10, 40), crop_size=24, batch_size=4, seed=5, samples=8)
    used = set()
    for lq, hq in ds:
        assert lq.shape == hq.shape == (4, 24, 24, 1)
        for a, b in zip(lq.numpy(), hq.numpy()):
            matches = [q for q in (10, 40) if np.array_equal(a, jpeg_compress(b, q).numpy())]
            assert len(matches) == 1
            used.add(matches[0])
    assert used == {10, 40}


def test_restoration_training_data_is_seeded_and_checks_its_arguments(photos):
    def first(seed):
        lq, hq = next(iter(restoration_training_data(photos, "denoise", 15, crop_size=16, batch_size=2, seed=seed)))
        return lq.numpy(), hq.numpy()

    a, b, c = first(7), first(7), first(8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    with pytest.raises(ValueError, match=r"300x451, smaller than the 400x400 patch"):
        restoration_training_data(photos, "denoise", 15, crop_size=400)
    with pytest.raises(ValueError, match="multiple of the scale"):
        restoration_training_data(photos, "sr", 3, crop_size=32)
    with pytest.raises(ValueError, match="sigma must be a number >= 0"):
        restoration_training_data(photos, "denoise", -1)
