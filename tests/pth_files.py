"""Build test checkpoints for `larq_hsi.pth` without torch (the tests of tests/test_pth.py).

Hostile files:

* :func:`make_os_system_pth` - zip checkpoint whose ``data.pkl`` calls
  ``os.system("touch <marker>")`` (or ``exec``) when unpickled naively;
* :func:`make_truncated_copy` - the first half of a real checkpoint;
* :func:`make_legacy_pth` - a pre-1.6 style raw pickle stream (legacy magic
  number first), optionally followed by an ``os.system`` payload.

Well-formed files, from a minimal hand-written ``torch.save`` look-alike:

* :func:`write_zip_checkpoint` - pickles any object made of plain data,
  :class:`FakeTensor`, :class:`FakeParameter` and :class:`FakeModule`, and
  writes ``<prefix>/data.pkl``, ``<prefix>/data/<key>``, ``<prefix>/version``
  (and ``<prefix>/byteorder`` if asked);
* :func:`make_valid_pth` - a wrapped state dict with transposed, strided,
  offset, shared-storage, 0-d and empty tensors of several dtypes, returned
  with the arrays the reader must produce.

The stand-ins pickle to the same opcodes torch emits: ``GLOBAL
'torch._utils _rebuild_tensor_v2'`` + argument tuple + ``REDUCE`` per tensor,
with the storage as ``BINPERSID`` of ``('storage', GLOBAL 'torch
FloatStorage', key, location, numel)``.  Nothing named ``torch`` is imported
or inserted into ``sys.modules``: :class:`_Global` objects are written as
``GLOBAL`` opcodes directly by :class:`_CheckpointPickler`.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import pickletools
import zipfile
from typing import Any

import numpy as np

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001

#: numpy dtype -> torch storage pickle name (what torch.save writes).
STORAGE_NAMES = {
    np.dtype("float32"): "FloatStorage",
    np.dtype("float64"): "DoubleStorage",
    np.dtype("float16"): "HalfStorage",
    np.dtype("int64"): "LongStorage",
    np.dtype("int32"): "IntStorage",
    np.dtype("int16"): "ShortStorage",
    np.dtype("int8"): "CharStorage",
    np.dtype("uint8"): "ByteStorage",
    np.dtype("bool"): "BoolStorage",
}


# --------------------------------------------------------------------------
# Stand-ins and the pickler
# --------------------------------------------------------------------------
class _Global:
    """A ``module.name`` reference, pickled as a bare ``GLOBAL`` opcode."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self, *args, **kwargs):  # pickle requires reduce funcs callable
        raise RuntimeError(f"stand-in for {self.module}.{self.name}")


class FakeStorage:
    """A storage: flat data written to ``data/<key>``, little-endian.

    ``storage_name`` defaults to the torch name of ``data.dtype``; override
    it (e.g. ``"BFloat16Storage"``) to build odd files.  ``numel`` defaults
    to ``data.size``; a different value makes the pid disagree with the entry.
    """

    def __init__(self, key: str, data: np.ndarray, *, storage_name: str | None = None,
                 numel: int | None = None, location: str = "cpu") -> None:
        self.key = key
        self.data = np.ascontiguousarray(data).reshape(-1)
        self.storage_name = storage_name or STORAGE_NAMES[self.data.dtype]
        self.numel = self.data.size if numel is None else numel
        self.location = location

    def raw_bytes(self) -> bytes:
        return self.data.astype(self.data.dtype.newbyteorder("<")).tobytes()


class FakeTensor:
    """Pickles as ``_rebuild_tensor_v2(storage, offset, size, stride, False,
    OrderedDict()[, metadata])``."""

    def __init__(self, storage: FakeStorage, offset: int, size: tuple,
                 stride: tuple, metadata: dict | None = None,
                 rebuild: str = "_rebuild_tensor_v2") -> None:
        self.storage, self.offset = storage, offset
        self.size, self.stride = tuple(size), tuple(stride)
        self.metadata, self.rebuild = metadata, rebuild

    def __reduce__(self):
        args = (self.storage, self.offset, self.size, self.stride)
        if self.rebuild == "_rebuild_tensor_v2":
            args += (False, collections.OrderedDict())
            if self.metadata is not None:
                args += (self.metadata,)
        return (_Global("torch._utils", self.rebuild), args)


class FakeParameter:
    """Pickles as ``_rebuild_parameter(tensor, True, OrderedDict())``."""

    def __init__(self, tensor: FakeTensor) -> None:
        self.tensor = tensor

    def __reduce__(self):
        return (_Global("torch._utils", "_rebuild_parameter"),
                (self.tensor, True, collections.OrderedDict()))


class FakeModule:
    """Pickles like an ``nn.Module`` instance: ``GLOBAL mod cls``, empty
    args, then ``BUILD`` with the ``__dict__``-style state."""

    def __init__(self, module: str, name: str, state: dict) -> None:
        self.module, self.name, self.state = module, name, state

    def __reduce__(self):
        return (_Global(self.module, self.name), (), self.state)


class _Payload:
    """``__reduce__`` returning an arbitrary real callable and its args."""

    def __init__(self, func, args: tuple) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


class _CheckpointPickler(pickle._Pickler):
    """Pure-Python pickler that writes :class:`_Global` as ``GLOBAL`` and
    :class:`FakeStorage` as persistent ids, collecting the storages."""

    dispatch = pickle._Pickler.dispatch.copy()
    # dill (imported with TensorFlow's stack) replaces the pure-Python pickler's handler for
    # classes in place; torch.save writes classes as plain GLOBALs, so restore that.
    dispatch[type] = pickle._Pickler.save_global

    def __init__(self, file, protocol: int = 2) -> None:
        super().__init__(file, protocol)
        self.storages: dict[str, FakeStorage] = {}

    def _save_global_ref(self, obj: _Global) -> None:
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("ascii"))
        self.memoize(obj)

    dispatch[_Global] = _save_global_ref

    def persistent_id(self, obj: Any):
        if isinstance(obj, FakeStorage):
            self.storages[obj.key] = obj
            return ("storage", _Global("torch", obj.storage_name), obj.key,
                    obj.location, obj.numel)
        return None


def dumps(obj: Any, protocol: int = 2) -> tuple[bytes, dict[str, FakeStorage]]:
    """Pickle ``obj`` like torch.save's data.pkl; return bytes and storages."""
    buf = io.BytesIO()
    pickler = _CheckpointPickler(buf, protocol)
    pickler.dump(obj)
    return buf.getvalue(), pickler.storages


def write_zip_checkpoint(path: str | os.PathLike, obj: Any, *, prefix: str = "archive",
                         byteorder: str | None = None, protocol: int = 2,
                         omit_keys: tuple[str, ...] = (),
                         extra_entries: dict[str, bytes] | None = None) -> str:
    """Write a zip-format checkpoint holding ``obj``; return its path.

    ``omit_keys`` leaves those ``data/<key>`` entries out (a broken file);
    ``extra_entries`` adds ``<prefix>/<name>`` entries verbatim.
    """
    path = os.fspath(path)
    pkl, storages = dumps(obj, protocol)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{prefix}/data.pkl", pkl)
        if byteorder is not None:
            zf.writestr(f"{prefix}/byteorder", byteorder)
        for key, storage in storages.items():
            if key not in omit_keys:
                zf.writestr(f"{prefix}/data/{key}", storage.raw_bytes())
        zf.writestr(f"{prefix}/version", "3\n")
        for name, data in (extra_entries or {}).items():
            zf.writestr(f"{prefix}/{name}", data)
    return path


# --------------------------------------------------------------------------
# Hostile files
# --------------------------------------------------------------------------
def make_os_system_pth(dirpath: str | os.PathLike, marker: str | os.PathLike, *,
                       variant: str = "system", protocol: int = 2) -> str:
    """Zip checkpoint whose ``data.pkl`` would create ``marker`` if unpickled
    with the stock unpickler.

    ``variant``: ``"system"`` (top-level ``os.system("touch marker")``),
    ``"exec"`` (``builtins.exec`` of Python that writes the marker) or
    ``"nested"`` (the ``os.system`` call is a value inside an otherwise
    valid state dict, after a real tensor).
    """
    marker = os.fspath(marker)
    system = _Payload(os.system, (f"touch '{marker}'",))
    if variant == "system":
        obj: Any = system
    elif variant == "exec":
        obj = _Payload(exec, (f"open({marker!r}, 'w').close()",))
    elif variant == "nested":
        storage = FakeStorage("0", np.arange(4, dtype=np.float32))
        obj = collections.OrderedDict(
            [("w", FakeTensor(storage, 0, (4,), (1,))), ("evil", system)])
    else:
        raise ValueError(f"unknown variant {variant!r}")
    return write_zip_checkpoint(os.path.join(dirpath, f"evil_{variant}_p{protocol}.pth"),
                                obj, protocol=protocol)


def make_truncated_copy(src: str | os.PathLike, dirpath: str | os.PathLike) -> str:
    """Copy of ``src`` cut to its first half (no central directory)."""
    with open(src, "rb") as fh:
        data = fh.read()
    out = os.path.join(dirpath, "truncated_" + os.path.basename(src))
    with open(out, "wb") as fh:
        fh.write(data[: len(data) // 2])
    return out


def make_legacy_pth(dirpath: str | os.PathLike,
                    marker: str | os.PathLike | None = None) -> str:
    """Pre-1.6 style file: pickled magic number, protocol version, sys info,
    then (if ``marker``) an ``os.system`` payload, then junk."""
    parts = [pickle.dumps(LEGACY_MAGIC_NUMBER, protocol=2),
             pickle.dumps(LEGACY_PROTOCOL_VERSION, protocol=2),
             pickle.dumps({"protocol_version": LEGACY_PROTOCOL_VERSION,
                           "little_endian": True}, protocol=2)]
    if marker is not None:
        parts.append(pickle.dumps(_Payload(os.system, (f"touch '{os.fspath(marker)}'",)),
                                  protocol=2))
    parts.append(b"\x00" * 64)
    out = os.path.join(dirpath, "legacy.pth")
    with open(out, "wb") as fh:
        fh.write(b"".join(parts))
    return out


# --------------------------------------------------------------------------
# A valid, deliberately awkward checkpoint
# --------------------------------------------------------------------------
def gather(flat: np.ndarray, offset: int, size: tuple, stride: tuple) -> np.ndarray:
    """Reference semantics of a strided view, by explicit indexing:
    ``out[i] = flat[offset + sum(i_k * stride_k)]``."""
    out = np.empty(size, dtype=flat.dtype)
    for idx in np.ndindex(*size):
        out[idx] = flat[offset + sum(i * s for i, s in zip(idx, stride))]
    return out


def make_valid_pth(dirpath: str | os.PathLike, *, name: str = "valid.pth",
                   wrap: str | None = "state_dict", prefix: str = "my_ckpt",
                   byteorder: str | None = "little"
                   ) -> tuple[str, dict[str, np.ndarray]]:
    """Write a checkpoint exercising strides and offsets.

    Keys carry a ``module.`` prefix (DataParallel) and, unless ``wrap`` is
    None, the state dict sits under ``wrap`` next to an int ``epoch`` and a
    small ``optimizer`` dict.  Returns ``(path, expected)`` where
    ``expected`` maps the *stripped* names to the arrays the reader must
    return, computed with :func:`gather` (not with ``as_strided``).
    """
    f32 = FakeStorage("0", np.arange(12, dtype=np.float32) * 0.5 - 2.0)
    f64 = FakeStorage("1", np.linspace(-1.0, 1.0, 60))
    i64 = FakeStorage("2", np.array([10, 20, 30, 40, 50], dtype=np.int64))
    f16 = FakeStorage("3", np.arange(10, dtype=np.float16) / 4)
    u8 = FakeStorage("4", np.arange(200, 206, dtype=np.uint8))
    bools = FakeStorage("5", np.array([True, False, False, True]))
    i8 = FakeStorage("6", np.array([-3, -2, -1, 0, 1, 2], dtype=np.int8))
    i16 = FakeStorage("7", np.array([-300, 7, 300], dtype=np.int16))
    i32 = FakeStorage("8", np.array([1, -(2 ** 31), 2 ** 31 - 1, 5], dtype=np.int32))

    layout = [  # name, storage, offset, size, stride
        ("conv.weight", f32, 0, (4, 3), (1, 4)),        # transpose of 3x4
        ("fc.bias", f32, 5, (2,), (2,)),                # shared storage, offset
        ("block.kernel", f64, 7, (2, 3, 2), (20, 1, 6)),  # strided, offset
        ("bn.num_batches_tracked", i64, 3, (), ()),     # 0-d with offset
        ("half.row", f16, 1, (3,), (3,)),
        ("u8.expanded", u8, 2, (2, 3), (0, 1)),         # stride 0 (expand)
        ("mask", bools, 0, (2, 2), (1, 2)),
        ("i8.rev_block", i8, 1, (2, 2), (3, 1)),
        ("i16.all", i16, 0, (3,), (1,)),
        ("i32.pair", i32, 1, (2,), (1,)),
        ("empty", f32, 12, (0, 3), (3, 1)),             # no elements
    ]
    state = collections.OrderedDict()
    expected: dict[str, np.ndarray] = {}
    for key, storage, offset, size, stride in layout:
        state["module." + key] = FakeTensor(storage, offset, size, stride)
        expected[key] = gather(storage.data, offset, size, stride)
    obj: Any = state
    if wrap is not None:
        obj = {"epoch": 7, wrap: state, "optimizer": {"lr": 0.1, "step": 3}}
    path = write_zip_checkpoint(os.path.join(dirpath, name), obj, prefix=prefix,
                                byteorder=byteorder)
    return path, expected


def pickle_globals(path: str | os.PathLike) -> list[tuple[str, str]]:
    """List the distinct ``(module, name)`` globals in a checkpoint's
    ``data.pkl``, in order of first use, by parsing opcodes only.

    Handles ``GLOBAL``/``INST`` (protocols 0-3, which ``torch.save`` uses)
    and ``STACK_GLOBAL`` whose operands are string literals or memo refs.
    Diagnostic only: the reader's safety does not depend on it.
    """
    path = os.fspath(path)
    with zipfile.ZipFile(path) as zf:
        pkl = zf.read(next(n for n in zf.namelist() if n.endswith("/data.pkl")))
    found: dict[tuple[str, str], None] = {}
    memo: dict[int, Any] = {}
    recent: list[Any] = []  # values of the most recent pushes (strings only)
    for op, arg, _pos in pickletools.genops(pkl):
        if op.name in ("GLOBAL", "INST"):
            module, name = arg.split(" ", 1)
            found[(module, name)] = None
            recent.append(None)
        elif op.name == "STACK_GLOBAL":
            module, name = ([None, None] + recent)[-2:]
            found[(str(module), str(name))] = None
            recent.append(None)
        elif "UNICODE" in op.name or op.name in ("STRING", "BINSTRING",
                                                 "SHORT_BINSTRING"):
            recent.append(arg)
        elif op.name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[arg] = recent[-1] if recent else None
        elif op.name == "MEMOIZE":
            memo[len(memo)] = recent[-1] if recent else None
        elif op.name in ("GET", "BINGET", "LONG_BINGET"):
            recent.append(memo.get(arg))
        else:
            recent.append(None)
        del recent[:-2]
    return list(found)
