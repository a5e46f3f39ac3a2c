"""Readers: cubes (.mat v5/v7.3, .npy, .npz, HDF5, PNG folders), measurements, photographs, and their errors."""

import h5py
import numpy as np
import pytest
import scipy.io
import tensorflow as tf
from PIL import Image

from larq_hsi import io

# --------------------------------------------------------------------------- cubes


@pytest.fixture
def cube(rng):
    return rng.uniform(size=(6, 5, 28)).astype(np.float32)


def test_mat_v5_keys_and_integer_scaling(tmp_path, cube):
    counts = (cube * 65535).astype(np.uint16)
    scipy.io.savemat(tmp_path / "cave.mat", {"img_expand": counts, "other": np.zeros(3)})
    np.testing.assert_array_equal(io.load_cube(tmp_path / "cave.mat"), (counts / 65536.0).astype(np.float32))
    scipy.io.savemat(tmp_path / "kaist.mat", {"img": cube})  # floats in [0, 1]: kept
    np.testing.assert_array_equal(io.load_cube(tmp_path / "kaist.mat"), cube)
    scipy.io.savemat(tmp_path / "whole.mat", {"img": counts.astype(np.float64)})  # whole numbers in a double
    np.testing.assert_array_equal(io.load_cube(tmp_path / "whole.mat"), (counts / 65536.0).astype(np.float32))
    np.testing.assert_array_equal(io.load_cube(tmp_path / "cave.mat", scale=None), counts.astype(np.float32))


def test_mat_v73_is_read_through_h5py_and_transposed_back(tmp_path, cube):
    path = tmp_path / "v73.mat"
    with h5py.File(path, "w", userblock_size=512) as f:  # MATLAB's layout: header block, then HDF5
        f["img"] = cube.T  # column-major on disk: h5py sees (bands, width, height)
    with open(path, "r+b") as f:  # 116 bytes of text, 8 of subsystem offset, version 0x0200, "IM"
        f.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00 .".ljust(116) + bytes(8) + b"\x00\x02IM")
    with pytest.raises(NotImplementedError):
        scipy.io.loadmat(path)  # what users hit with scipy alone
    np.testing.assert_array_equal(io.load_cube(path), cube)


def test_npy_npz_and_hdf5(tmp_path, cube):
    np.save(tmp_path / "c.npy", cube)
    np.testing.assert_array_equal(io.load_cube(tmp_path / "c.npy"), cube)
    np.savez(tmp_path / "c.npz", cube=cube, extra=np.zeros(2))
    np.testing.assert_array_equal(io.load_cube(tmp_path / "c.npz"), cube)
    np.savez(tmp_path / "k.npz", a=cube, b=cube * 0)
    np.testing.assert_array_equal(io.load_cube(tmp_path / "k.npz", key="b"), cube * 0)
    with h5py.File(tmp_path / "c.h5", "w") as f:
        f["scene"] = cube  # plain HDF5: no transpose
    np.testing.assert_array_equal(io.load_cube(tmp_path / "c.h5"), cube)


def test_png_folder_in_name_order(tmp_path, rng):
    """CAVE ships one 16-bit PNG per band; bands are read in name order (numbers compared as numbers)."""
    bands = (rng.uniform(size=(11, 4, 3)) * 65535).astype(np.uint16)
    folder = tmp_path / "scene_ms"
    folder.mkdir()
    for n in range(11):
        Image.fromarray(bands[n]).save(folder / f"scene_ms_{n + 1}.png")  # _1 .. _11 (not zero padded)
    (folder / "notes.txt").write_text("not a band")
    out = io.load_cube(folder, expected_bands=11)
    assert out.shape == (4, 3, 11) and out.dtype == np.float32
    np.testing.assert_allclose(out, np.moveaxis(bands, 0, -1) / 65535.0, rtol=1e-6)
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(folder / "scene_ms_12.png")
    with pytest.raises(ValueError, match="scene_ms_12.png.*differs"):
        io.load_cube(folder)


def test_reader_errors_name_the_file(tmp_path, cube):
    scipy.io.savemat(tmp_path / "two.mat", {"a": cube, "b": cube})
    with pytest.raises(KeyError, match=r"two\.mat.*img_expand.*\['a', 'b'\]"):
        io.load_cube(tmp_path / "two.mat")
    with pytest.raises(KeyError, match=r"two\.mat.*'nope'"):
        io.load_cube(tmp_path / "two.mat", key="nope")
    with pytest.raises(ValueError, match=r"two\.mat.*expected 31 bands.*got 28"):
        io.load_cube(tmp_path / "two.mat", key="a", expected_bands=31)
    (tmp_path / "junk.mat").write_bytes(b"this is not a MATLAB file at all" * 8)
    with pytest.raises(ValueError, match=r"cannot read .*junk\.mat"):
        io.load_cube(tmp_path / "junk.mat")
    (tmp_path / "junk.npy").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"cannot read .*junk\.npy"):
        io.load_cube(tmp_path / "junk.npy")
    (tmp_path / "junk.png").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"junk\.png"):
        io.read_png(tmp_path / "junk.png")
    with pytest.raises(FileNotFoundError, match=r"missing\.mat"):
        io.load_cube(tmp_path / "missing.mat")
    (tmp_path / "c.tif").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"c\.tif.*unknown format"):
        io.load_cube(tmp_path / "c.tif")
    np.save(tmp_path / "flat.npy", np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"flat\.npy.*\(height, width, bands\).*\(4, 4\)"):
        io.load_cube(tmp_path / "flat.npy")
    bad = cube.copy()
    bad[0, 0, 0] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(ValueError, match=r"nan\.npy.*1 NaN"):
        io.load_cube(tmp_path / "nan.npy")


# --------------------------------------------------------------------------- measurements


def test_read_measurement_finds_the_key_and_rejects_bad_arrays(tmp_path):
    y = np.arange(12, dtype=np.float32).reshape(3, 4)
    scipy.io.savemat(tmp_path / "m.mat", {"meas_real": y[None]})
    np.testing.assert_array_equal(io.read_measurement(tmp_path / "m.mat"), y)
    np.save(tmp_path / "cube.npy", np.zeros((3, 4, 2), np.float32))
    with pytest.raises(ValueError, match="2-D.*got shape \\(3, 4, 2\\)"):
        io.read_measurement(tmp_path / "cube.npy")
    bad = y.copy()
    bad[1, 1] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(ValueError, match="nan.npy"):
        io.read_measurement(tmp_path / "nan.npy")


# --------------------------------------------------------------------------- images (restoration)


def _write(path, levels, fmt="png"):
    tensor = tf.constant(levels)
    data = tf.io.encode_png(tensor) if fmt == "png" else tf.io.encode_jpeg(tensor, quality=95)
    path.write_bytes(data.numpy())


def test_read_image_png_8_and_16_bit_and_channels(tmp_path, rng):
    levels = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    _write(tmp_path / "a.png", levels)
    np.testing.assert_allclose(io.read_image(tmp_path / "a.png"), levels / 255.0, atol=1e-7)
    deep = rng.integers(0, 65536, size=(4, 4, 1), dtype=np.uint16)
    _write(tmp_path / "deep.png", deep)
    np.testing.assert_allclose(io.read_image(tmp_path / "deep.png", channels=1), deep / 65535.0, atol=1e-6)
    np.testing.assert_allclose(io.read_image(tmp_path / "deep.png"), np.repeat(deep / 65535.0, 3, -1), atol=1e-6)
    gray = io.read_image(tmp_path / "a.png", channels=1)
    expected = (levels / 255.0) @ np.array([0.2989, 0.5870, 0.1140])
    np.testing.assert_allclose(gray[..., 0], expected, atol=1e-6)
    rgba = np.concatenate([levels, np.full((5, 7, 1), 7, np.uint8)], -1)
    _write(tmp_path / "rgba.png", rgba)
    np.testing.assert_allclose(io.read_image(tmp_path / "rgba.png"), levels / 255.0, atol=1e-7)


def test_read_image_errors_name_the_file(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match="broken.png"):
        io.read_image(bad)
    with pytest.raises(FileNotFoundError, match="missing.png"):
        io.read_image(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="channels must be 1"):
        io.read_image(bad, channels=2)


def test_read_image_folder(tmp_path, rng):
    for n in (10, 2, 1):
        _write(tmp_path / f"img{n}.png", np.full((4, 4, 3), n, np.uint8))
    _write(tmp_path / "photo.JPG", np.full((8, 8, 3), 128, np.uint8), fmt="jpeg")
    (tmp_path / "notes.txt").write_text("ignored")
    images = io.read_image_folder(tmp_path)
    assert [round(float(im[0, 0, 0]) * 255) for im in images[:3]] == [1, 2, 10]  # natural order
    assert images[3].shape == (8, 8, 3) and abs(float(images[3].mean()) - 128 / 255) < 2 / 255
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no .png/.jpg/.jpeg files in .*empty"):
        io.read_image_folder(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        io.read_image_folder(tmp_path / "nowhere")
    (tmp_path / "zz_bad.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(ValueError, match="zz_bad.png"):
        io.read_image_folder(tmp_path)


# ------------------------------------------------------------------ CAVE scene folders


def _write_band(path, value, bits=16, size=(6, 5), rgba=False):
    from PIL import Image

    if bits == 16:
        array = np.full(size, value, np.uint16)
        Image.fromarray(array).save(path)
    else:
        grey = np.full(size, value, np.uint8)
        array = np.stack([grey, grey, grey, np.full(size, 255, np.uint8)], -1) if rgba else grey
        Image.fromarray(array).save(path)


def _cave_scene(root, name="toy", bands=31, bits=16, skip=(), sizes=None, rgba=False):
    """A CAVE-style scene as downloaded: root/<name>_ms/<name>_ms/<name>_ms_NN.png, plus a .bmp and Thumbs.db."""
    inner = root / f"{name}_ms" / f"{name}_ms"
    inner.mkdir(parents=True)
    for n in range(1, bands + 1):
        if n in skip:
            continue
        full = 65535 if bits == 16 else 255
        value = round(full * n / 40)
        size = (sizes or {}).get(n, (6, 5))
        _write_band(inner / f"{name}_ms_{n:02d}.png", value, bits, size, rgba)
    (inner / f"{name}_RGB.bmp").write_bytes(b"BM not really an image")
    (inner / "Thumbs.db").write_bytes(b"\x00" * 16)
    return root / f"{name}_ms"


def test_cave_layout_reads_nested_bands_and_knows_its_wavelengths(tmp_path):
    scene = _cave_scene(tmp_path)
    cube = io.load_cube(scene)
    assert cube.shape == (6, 5, 31) and cube.dtype == np.float32
    np.testing.assert_allclose(cube[0, 0], [round(65535 * n / 40) / 65535 for n in range(1, 32)], rtol=1e-6)
    np.testing.assert_array_equal(io.cube_wavelengths(scene), 400 + 10 * np.arange(31))
    assert io.cube_wavelengths(scene / "toy_ms") is not None  # the inner folder works too


def test_cave_scene_resampled_to_the_cassi_bands(tmp_path):
    from larq_hsi.spectra import CASSI_WAVELENGTHS, resample_bands

    scene = _cave_scene(tmp_path)
    cube = io.load_cube(scene, wavelengths=CASSI_WAVELENGTHS)
    assert cube.shape == (6, 5, 28)
    np.testing.assert_allclose(cube, resample_bands(io.load_cube(scene), 400 + 10 * np.arange(31),
                                                    CASSI_WAVELENGTHS), rtol=1e-6)


def test_watercolors_style_rgba_bands_are_grey(tmp_path):
    cube = io.load_cube(_cave_scene(tmp_path, bits=8, rgba=True))
    np.testing.assert_allclose(cube[0, 0, :3], [round(255 * n / 40) / 255 for n in (1, 2, 3)], rtol=1e-6)


def test_cave_layout_errors_name_the_file(tmp_path):
    with pytest.raises(ValueError, match=r"a_ms_07\.png: band 7 of 31 is missing"):
        io.load_cube(_cave_scene(tmp_path / "1", "a", skip=(7,)))
    with pytest.raises(ValueError, match=r"b_ms_12\.png: band size \(4, 5\) differs"):
        io.load_cube(_cave_scene(tmp_path / "2", "b", sizes={12: (4, 5)}))
    scene = _cave_scene(tmp_path / "3", "c")
    _write_band(scene / "c_ms" / "c_ms_05.png", 9, bits=8)
    with pytest.raises(ValueError, match=r"c_ms_05\.png: a 8-bit band among 16-bit ones"):
        io.load_cube(scene)
    empty = tmp_path / "4" / "d_ms" / "d_ms"
    empty.mkdir(parents=True)
    with pytest.raises(ValueError, match="found no .png file"):
        io.load_cube(tmp_path / "4" / "d_ms")


def test_unknown_wavelengths_with_the_wrong_band_count_are_refused(tmp_path):
    from larq_hsi.spectra import CASSI_WAVELENGTHS

    path = tmp_path / "cube.npy"
    np.save(path, np.zeros((4, 4, 31), np.float32))
    with pytest.raises(ValueError, match=r"cube\.npy: 31 bands of unknown wavelengths; expected 28 bands"):
        io.load_cube(path, wavelengths=CASSI_WAVELENGTHS)
    np.save(path, np.zeros((4, 4, 28), np.float32))
    assert io.load_cube(path, wavelengths=CASSI_WAVELENGTHS).shape == (4, 4, 28)


def test_the_shared_cave_scenes(shared_dir):
    from larq_hsi.spectra import CASSI_WAVELENGTHS

    scenes = sorted((shared_dir / "data" / "cave").iterdir())
    assert len(scenes) == 8
    for scene in scenes[:2] + [s for s in scenes if s.name == "watercolors_ms"]:
        cube = io.load_cube(scene)
        assert cube.shape == (512, 512, 31)
        assert 0.0 <= cube.min() and cube.max() <= 1.0 and cube.std() > 0.01
        resampled = io.load_cube(scene, wavelengths=CASSI_WAVELENGTHS)
        assert resampled.shape == (512, 512, 28)
        # 550 nm is not a CASSI band; 551.5 nm is, 15% of the way from 550 to 560 nm.
        np.testing.assert_allclose(resampled[..., 17], 0.85 * cube[..., 15] + 0.15 * cube[..., 16], atol=1e-6)


def test_scene_entries_lists_cube_files_and_folders_in_name_order(tmp_path):
    for name in ("b.npy", "a.mat", "c.H5", "d.npz", "e.hdf5", "notes.txt", "preview.png"):
        (tmp_path / name).write_bytes(b"")
    _cave_scene(tmp_path, "z")
    assert [p.name for p in io.scene_entries(tmp_path)] == ["a.mat", "b.npy", "c.H5", "d.npz", "e.hdf5", "z_ms"]
    with pytest.raises(ValueError, match="data folder not found"):
        io.scene_entries(tmp_path / "missing")
    with pytest.raises(ValueError, match="data folder not found"):
        io.scene_entries(tmp_path / "b.npy")  # a file is not a folder
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("")
    with pytest.raises(ValueError, match=r"no cubes .* found in .*empty"):
        io.scene_entries(tmp_path / "empty")


def test_scene_entries_is_still_importable_from_the_cassi_task():
    from larq_hsi.tasks.cassi import dataset

    assert dataset.scene_entries is io.scene_entries
