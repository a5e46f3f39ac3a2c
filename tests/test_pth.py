"""The safe `.pth` reader (`larq_hsi.pth`): the published checkpoints, hand-built files, hostile files.

No torch anywhere: the test files are written by `tests/pth_files.py`.
"""

from __future__ import annotations

import collections
import hashlib
import os
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from larq_hsi.pth import LEGACY_MAGIC_NUMBER, STORAGE_DTYPES, read_torch_state_dict
from tests import pth_files as mm
from tests.conftest import SHARED

REF = SHARED / "reference"
SHA256 = {
    "simulation": "a06452f8d4f68f575809afb374ff15ca56956bd12dcbe9472081116a5782fad0",
    "real": "1cc171b6c541be216adc91450216046358281fdead159498365583fc1080e2ca",
}
STRICT_GLOBALS = {("collections", "OrderedDict"),
                  ("torch._utils", "_rebuild_tensor_v2"),
                  ("torch._utils", "_rebuild_tensor")} | {
                      ("torch", n) for n in STORAGE_DTYPES}


def ref_paths(which: str) -> tuple[Path, Path]:
    pth = REF / f"bisrnet_{which}.pth"
    npz = REF / f"bisrnet_{which}_weights.npz"
    if not (pth.is_file() and npz.is_file()):
        pytest.skip(f"reference files absent: {pth} / {npz}")
    return pth, npz


def assert_same_state(got: dict, want) -> None:
    """Same keys in the same order, same shapes, dtypes and values."""
    want_keys = list(want.files) if hasattr(want, "files") else list(want)
    assert list(got) == want_keys
    for key in want_keys:
        w = want[key]
        assert isinstance(got[key], np.ndarray), key
        assert got[key].shape == w.shape, key
        assert got[key].dtype == w.dtype, key
        assert np.array_equal(got[key], w), key


# --------------------------------------------------------------------------
# Real reference checkpoints
# --------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["simulation", "real"])
def test_reference_sha256(which):
    pth, _ = ref_paths(which)
    assert hashlib.sha256(pth.read_bytes()).hexdigest() == SHA256[which]


def test_simulation_matches_npz():
    pth, npz = ref_paths("simulation")
    got = read_torch_state_dict(pth)
    with np.load(npz) as want:
        assert len(want.files) == 457
        assert_same_state(got, want)
    assert all(v.flags.c_contiguous and v.dtype == np.float32 for v in got.values())


def test_simulation_uses_only_whitelisted_globals():
    pth, _ = ref_paths("simulation")
    assert set(mm.pickle_globals(pth)) == {("collections", "OrderedDict"),
                                        ("torch._utils", "_rebuild_tensor_v2"),
                                        ("torch", "FloatStorage")}


def test_real_is_a_pickled_module_and_refused_by_default():
    pth, _ = ref_paths("real")
    found = set(mm.pickle_globals(pth))
    assert ("architecture.BiSRNet_3L", "BiSRNet_3L") in found
    assert ("torch._utils", "_rebuild_parameter") in found
    assert found - STRICT_GLOBALS  # beyond the whitelist
    with pytest.raises(ValueError, match=r"^refusing to unpickle "
                       r"architecture\.BiSRNet_3L\.BiSRNet_3L from .*bisrnet_real\.pth$"):
        read_torch_state_dict(pth)


def test_real_matches_npz_with_allow_pickled_module():
    pth, npz = ref_paths("real")
    got = read_torch_state_dict(pth, allow_pickled_module=True)
    with np.load(npz) as want:
        assert_same_state(got, want)


def test_truncated_real_copy(tmp_path):
    pth, _ = ref_paths("simulation")
    bad = mm.make_truncated_copy(pth, tmp_path)
    assert os.path.getsize(bad) == os.path.getsize(pth) // 2
    with pytest.raises(ValueError, match="truncated or corrupt zip") as err:
        read_torch_state_dict(bad)
    assert bad in str(err.value)


# --------------------------------------------------------------------------
# Hostile pickles
# --------------------------------------------------------------------------
def test_payload_is_live_control(tmp_path):
    """Control: the stock unpickler really runs the payload, so the marker
    checks below are meaningful."""
    marker = tmp_path / "MARKER"
    path = mm.make_os_system_pth(tmp_path, marker)
    with zipfile.ZipFile(path) as zf:
        pickle.loads(zf.read("archive/data.pkl"))  # deliberately unsafe
    assert marker.exists()


@pytest.mark.parametrize("protocol", [2, 4])
@pytest.mark.parametrize("variant,global_re", [
    ("system", r"(posix|nt|os)\.system"),
    ("nested", r"(posix|nt|os)\.system"),
    ("exec", r"(__builtin__|builtins)\.exec"),
])
def test_malicious_pickle_refused(tmp_path, variant, global_re, protocol):
    marker = tmp_path / "MARKER"
    path = mm.make_os_system_pth(tmp_path, marker, variant=variant, protocol=protocol)
    with pytest.raises(ValueError) as err:
        read_torch_state_dict(path)
    assert str(err.value).startswith("refusing to unpickle ")
    assert re.fullmatch(rf"refusing to unpickle {global_re} from {re.escape(path)}",
                        str(err.value))
    assert not marker.exists()
    # the opt-in module mode turns the global into an inert placeholder: the
    # file is still rejected (not a state dict) and nothing runs
    with pytest.raises(ValueError, match="nn.Module|not tensors"):
        read_torch_state_dict(path, allow_pickled_module=True)
    assert not marker.exists()
    # the diagnostic lister sees the global without executing anything
    assert any(name in ("system", "exec") for _, name in mm.pickle_globals(path))
    assert not marker.exists()


@pytest.mark.parametrize("with_payload", [True, False])
def test_legacy_checkpoint_refused(tmp_path, with_payload):
    marker = tmp_path / "MARKER"
    path = mm.make_legacy_pth(tmp_path, marker if with_payload else None)
    with open(path, "rb") as fh:
        assert pickle.load(fh) == LEGACY_MAGIC_NUMBER  # plain int, safe
    with pytest.raises(ValueError) as err:
        read_torch_state_dict(path)
    msg = str(err.value)
    assert path in msg
    assert ("legacy (non-zip) PyTorch checkpoint; re-save it with torch>=1.6 "
            "`torch.save(..., _use_new_zipfile_serialization=True)`") in msg
    assert not marker.exists()


@pytest.mark.parametrize("content,needle", [
    (b"", "not a zip-format"),
    (b"hello, not a checkpoint at all" * 10, "not a zip-format"),
    (pickle.dumps({"a": 1}, protocol=2), "not a zip-format"),
    (b"PK\x03\x04" + b"\x00" * 100, "truncated or corrupt zip"),
])
def test_not_a_checkpoint(tmp_path, content, needle):
    path = tmp_path / "junk.pth"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=needle) as err:
        read_torch_state_dict(path)
    assert str(path) in str(err.value)


# --------------------------------------------------------------------------
# Hand-built valid checkpoints: strides, offsets, dtypes, wrappers
# --------------------------------------------------------------------------
def test_valid_handmade_checkpoint(tmp_path):
    path, expected = mm.make_valid_pth(tmp_path)
    with zipfile.ZipFile(path) as zf:  # prefix is not "archive"
        assert "my_ckpt/data.pkl" in zf.namelist()
    got = read_torch_state_dict(path)
    assert_same_state(got, expected)
    assert not any(k.startswith("module.") for k in got)
    # spot checks independent of mm.gather
    assert np.array_equal(got["conv.weight"],
                          (np.arange(12, dtype=np.float32) * 0.5 - 2.0).reshape(3, 4).T)
    assert got["fc.bias"].tolist() == [0.5, 1.5]
    assert got["bn.num_batches_tracked"].shape == ()
    assert int(got["bn.num_batches_tracked"]) == 40
    assert got["u8.expanded"].tolist() == [[202, 203, 204], [202, 203, 204]]
    assert got["empty"].shape == (0, 3)
    for value in got.values():
        assert value.flags.c_contiguous and value.flags.owndata
        assert value.dtype.isnative
        assert value.flags.writeable


def test_handmade_pickle_uses_torch_opcodes(tmp_path):
    path, _ = mm.make_valid_pth(tmp_path)
    found = mm.pickle_globals(path)
    assert ("torch._utils", "_rebuild_tensor_v2") in found
    assert set(found) <= STRICT_GLOBALS
    with zipfile.ZipFile(path) as zf:
        assert b"\x80\x02" == zf.read("my_ckpt/data.pkl")[:2]  # protocol 2
        assert b"Q" in zf.read("my_ckpt/data.pkl")  # BINPERSID


@pytest.mark.parametrize("wrap", ["state_dict", "model", "params", None])
def test_wrappers_unwrapped(tmp_path, wrap):
    path, expected = mm.make_valid_pth(tmp_path, wrap=wrap, byteorder=None)
    assert_same_state(read_torch_state_dict(path), expected)


def tensor_file(tmp_path, tensors, **kwargs) -> str:
    """Checkpoint holding ``OrderedDict(tensors)``."""
    return mm.write_zip_checkpoint(tmp_path / "t.pth",
                                   collections.OrderedDict(tensors), **kwargs)


def f32_storage(n=6, key="0", **kwargs):
    return mm.FakeStorage(key, np.arange(n, dtype=np.float32), **kwargs)


def test_rebuild_tensor_v1_and_false_metadata(tmp_path):
    s = f32_storage()
    path = tensor_file(tmp_path, [
        ("a", mm.FakeTensor(s, 1, (2, 2), (1, 2), rebuild="_rebuild_tensor")),
        ("b", mm.FakeTensor(s, 0, (3,), (2,), metadata={"neg": False})),
    ])
    got = read_torch_state_dict(path)
    assert got["a"].tolist() == [[1.0, 3.0], [2.0, 4.0]]
    assert got["b"].tolist() == [0.0, 2.0, 4.0]


def test_byteorder_big_refused(tmp_path):
    path = tensor_file(tmp_path, [("a", mm.FakeTensor(f32_storage(), 0, (6,), (1,)))],
                       byteorder="big")
    with pytest.raises(ValueError, match="big-endian") as err:
        read_torch_state_dict(path)
    assert path in str(err.value)


def test_byteorder_unknown_refused(tmp_path):
    path = tensor_file(tmp_path, [("a", mm.FakeTensor(f32_storage(), 0, (6,), (1,)))],
                       byteorder="middle")
    with pytest.raises(ValueError, match="unknown byteorder"):
        read_torch_state_dict(path)


def test_bfloat16_refused(tmp_path):
    s = mm.FakeStorage("0", np.zeros(4, np.uint16), storage_name="BFloat16Storage")
    path = tensor_file(tmp_path, [("a", mm.FakeTensor(s, 0, (4,), (1,)))])
    with pytest.raises(ValueError, match="bfloat16") as err:
        read_torch_state_dict(path)
    assert path in str(err.value)


@pytest.mark.parametrize("offset,size,stride", [
    (1, (6,), (1,)),        # offset pushes the end out
    (0, (2, 3), (4, 1)),    # needs 4 + 2 + 1 = 7 > 6
    (6, (), ()),            # 0-d just past the end
])
def test_extent_beyond_storage(tmp_path, offset, size, stride):
    path = tensor_file(tmp_path, [("a", mm.FakeTensor(f32_storage(key="77"), offset,
                                                      size, stride))])
    with pytest.raises(ValueError, match="storage key '77' holds 6") as err:
        read_torch_state_dict(path)
    assert path in str(err.value)


@pytest.mark.parametrize("offset,size,stride,needle", [
    (0, (2, 3), (3,), "rank"),
    (0, (3,), (-1,), "bad tensor stride"),
    (-1, (3,), (1,), "bad storage offset"),
    (0, (2.0,), (1,), "bad tensor size"),
])
def test_bad_geometry(tmp_path, offset, size, stride, needle):
    path = tensor_file(tmp_path, [("a", mm.FakeTensor(f32_storage(), offset, size, stride))])
    with pytest.raises(ValueError, match=needle):
        read_torch_state_dict(path)


def test_entry_shorter_than_declared(tmp_path):
    s = f32_storage(numel=10)  # pid says 10 elements, entry holds 6
    path = tensor_file(tmp_path, [("a", mm.FakeTensor(s, 0, (6,), (1,)))])
    with pytest.raises(ValueError, match="holds 24 bytes, persistent id declares 40"):
        read_torch_state_dict(path)


def test_missing_data_entry(tmp_path):
    path = tensor_file(tmp_path, [("a", mm.FakeTensor(f32_storage(key="5"), 0, (6,), (1,)))],
                       omit_keys=("5",))
    with pytest.raises(ValueError, match=r"missing zip entry 'archive/data/5'") as err:
        read_torch_state_dict(path)
    assert path in str(err.value)


def test_corrupt_data_entry_crc(tmp_path):
    path = tensor_file(tmp_path, [("a", mm.FakeTensor(f32_storage(), 0, (6,), (1,)))])
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("archive/data/0")
    raw = bytearray(Path(path).read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start + 5] ^= 0xFF  # flip bits inside the stored storage bytes
    Path(path).write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="truncated or corrupt zip"):
        read_torch_state_dict(path)


def test_data_pkl_count(tmp_path):
    none = tmp_path / "none.pth"
    with zipfile.ZipFile(none, "w") as zf:
        zf.writestr("archive/version", "3\n")
    with pytest.raises(ValueError, match=r"exactly one '<archive>/data.pkl'.*\[\]"):
        read_torch_state_dict(none)
    two = tmp_path / "two.pth"
    with zipfile.ZipFile(two, "w") as zf:
        zf.writestr("a/data.pkl", pickle.dumps({}))
        zf.writestr("b/data.pkl", pickle.dumps({}))
    with pytest.raises(ValueError, match="found.*a/data.pkl.*b/data.pkl"):
        read_torch_state_dict(two)


def test_torchscript_refused(tmp_path):
    path = tensor_file(tmp_path, [("a", mm.FakeTensor(f32_storage(), 0, (6,), (1,)))],
                       extra_entries={"constants.pkl": pickle.dumps(())})
    with pytest.raises(ValueError, match="TorchScript"):
        read_torch_state_dict(path)


def test_corrupt_pickle_stream(tmp_path):
    path = tmp_path / "c.pth"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02}q\x00(X\x01")  # cut short
    with pytest.raises(ValueError, match="corrupt data.pkl") as err:
        read_torch_state_dict(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("obj,needle", [
    ([mm.FakeTensor(f32_storage(), 0, (6,), (1,))], "holds a list"),
    (collections.OrderedDict(), "0 entries"),
    (collections.OrderedDict([("a", mm.FakeTensor(f32_storage(), 0, (6,), (1,))),
                              ("step", 3)]), r"not tensors: \['step'\]"),
    ({"epoch": 3, "optimizer": {"lr": 0.1}}, "not tensors"),
    ({"state_dict": [1, 2]}, "not tensors"),
    (collections.OrderedDict([("module.a", mm.FakeTensor(f32_storage(), 0, (6,), (1,))),
                              ("a", mm.FakeTensor(f32_storage(), 0, (6,), (1,)))]),
     "collides"),
    ({1: mm.FakeTensor(f32_storage(), 0, (6,), (1,))}, "not a string"),
])
def test_result_not_a_state_dict(tmp_path, obj, needle):
    path = mm.write_zip_checkpoint(tmp_path / "x.pth", obj)
    with pytest.raises(ValueError, match=needle) as err:
        read_torch_state_dict(path)
    assert path in str(err.value)


def test_tensor_metadata_bit_refused(tmp_path):
    path = tensor_file(tmp_path, [("a", mm.FakeTensor(f32_storage(), 0, (6,), (1,),
                                                      metadata={"neg": True}))])
    with pytest.raises(ValueError, match="unsupported tensor metadata"):
        read_torch_state_dict(path)


@pytest.mark.parametrize("global_", [("torch._utils", "_rebuild_parameter"),
                                     ("torch.nn.modules.conv", "Conv2d"),
                                     ("torch", "ComplexFloatStorage"),
                                     ("numpy.core.multiarray", "_reconstruct")])
def test_strict_mode_refuses_other_globals(tmp_path, global_):
    obj = collections.OrderedDict([("a", mm.FakeModule(*global_, {}))])
    path = mm.write_zip_checkpoint(tmp_path / "g.pth", obj)
    with pytest.raises(ValueError, match=rf"^refusing to unpickle "
                       rf"{global_[0]}\.{global_[1]} from "):
        read_torch_state_dict(path)


# --------------------------------------------------------------------------
# Opt-in: a whole pickled nn.Module
# --------------------------------------------------------------------------
def fake_module(name, params=(), buffers=(), children=(), non_persistent=(),
                **extra):
    state = {"training": True,
             "_parameters": collections.OrderedDict(params),
             "_buffers": collections.OrderedDict(buffers),
             "_non_persistent_buffers_set": set(non_persistent),
             "_modules": collections.OrderedDict(children),
             "_state_dict_hooks": collections.OrderedDict()}
    state.update(extra)
    return mm.FakeModule("mypkg.nets", name, state)


def build_module_tree():
    s = mm.FakeStorage("0", np.arange(10, dtype=np.float32))
    t = lambda off, size, stride: mm.FakeTensor(s, off, size, stride)  # noqa: E731
    p = lambda *a: mm.FakeParameter(t(*a))  # noqa: E731
    leaf = fake_module("Leaf", params=[("weight", p(0, (2, 2), (1, 2))),
                                       ("bias", None)],
                       buffers=[("running", t(4, (2,), (1,))),
                                ("scratch", t(6, (2,), (1,)))],
                       non_persistent=["scratch"])
    inner = fake_module("Inner", params=[("scale", p(9, (), ()))],
                        children=[("leaf", leaf), ("gone", None)])
    root = fake_module("Net", params=[("w0", p(1, (3,), (3,)))],
                       children=[("body", inner), ("head", fake_module(
                           "Head", params=[("b", p(8, (1,), (1,)))]))])
    expected = {"w0": [1.0, 4.0, 7.0], "body.scale": 9.0,
                "body.leaf.weight": [[0.0, 2.0], [1.0, 3.0]],
                "body.leaf.running": [4.0, 5.0], "head.b": [8.0]}
    return root, expected


@pytest.mark.parametrize("wrapped", [False, True])
def test_pickled_module_tree(tmp_path, wrapped):
    root, expected = build_module_tree()
    obj = root
    if wrapped:  # DataParallel around the net, saved inside a dict
        obj = {"epoch": 1, "model": fake_module("DataParallel",
                                               children=[("module", root)])}
    path = mm.write_zip_checkpoint(tmp_path / "m.pth", obj)
    with pytest.raises(ValueError, match="refusing to unpickle mypkg.nets"):
        read_torch_state_dict(path)
    got = read_torch_state_dict(path, allow_pickled_module=True)
    assert list(got) == list(expected)
    for key, want in expected.items():
        assert got[key].tolist() == want
        assert got[key].dtype == np.float32


def test_pickled_module_with_state_dict_hooks_refused(tmp_path):
    hooks = collections.OrderedDict([(0, mm.FakeModule("mypkg.hooks", "Hook", {}))])
    obj = fake_module("Net", _state_dict_hooks=hooks)
    path = mm.write_zip_checkpoint(tmp_path / "h.pth", obj)
    with pytest.raises(ValueError, match="_state_dict_hooks"):
        read_torch_state_dict(path, allow_pickled_module=True)


def test_pickled_module_non_tensor_parameter_refused(tmp_path):
    obj = fake_module("Net", params=[("w", 1.5)])
    path = mm.write_zip_checkpoint(tmp_path / "p.pth", obj)
    with pytest.raises(ValueError, match="w is float, not a tensor"):
        read_torch_state_dict(path, allow_pickled_module=True)
