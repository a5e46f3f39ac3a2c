"""Reading PyTorch ``.pth`` state dicts into NumPy without torch and without
running pickled code.

``torch.save`` (torch >= 1.6, the default "zip" serialization) writes a zip
archive laid out as::

    <archive>/data.pkl        pickle (protocol 2) of the saved object
    <archive>/data/<key>      raw bytes of one storage, little-endian
    <archive>/version         format version, e.g. b"3\\n"
    <archive>/byteorder       optional, b"little" or b"big" (newer torch)

where ``<archive>`` is a folder name chosen at save time (often ``archive``).
Inside ``data.pkl`` every tensor is a call of
``torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride,
requires_grad, backward_hooks, metadata=None)`` and every storage is a
persistent id ``('storage', <torch.XStorage>, key, location, numel)`` whose
bytes live in ``<archive>/data/<key>`` (``numel`` counts elements).

Unpickling runs whatever callables the pickle names, so this module never
uses the stock :class:`pickle.Unpickler` lookup.  :class:`_StateDictUnpickler`
resolves a fixed whitelist of names to stand-ins defined here (nothing is
imported, nothing from torch is involved) and refuses every other global with
``ValueError("refusing to unpickle <module>.<name> from <path>")`` *before*
anything named by the pickle could run.

Public API
----------
``read_torch_state_dict(path, *, allow_pickled_module=False)``
    ``dict[str, np.ndarray]`` from a zip-format checkpoint.
``LEGACY_MAGIC_NUMBER``, ``STORAGE_DTYPES``
    format constants.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = [
    "LEGACY_MAGIC_NUMBER",
    "STORAGE_DTYPES",
    "read_torch_state_dict",
]

#: First object pickled into a legacy (pre-1.6, non-zip) ``torch.save`` file.
LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C

#: ``torch.<Name>Storage`` pickle names -> little-endian NumPy dtypes.
#: ``BFloat16Storage`` is recognised but refused: NumPy has no bfloat16.
STORAGE_DTYPES: dict[str, np.dtype | None] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "BFloat16Storage": None,
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}

#: Keys under which training scripts commonly nest the state dict.
_WRAPPER_KEYS = ("state_dict", "model", "params")
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_PKL_SUFFIX = "/data.pkl"


# --------------------------------------------------------------------------
# Stand-ins returned by find_class
# --------------------------------------------------------------------------
class _StorageType:
    """Stand-in for a ``torch.<Name>Storage`` class: just a name and a dtype."""

    __slots__ = ("name", "dtype")

    def __init__(self, name: str, dtype: np.dtype | None) -> None:
        self.name = name
        self.dtype = dtype

    def __repr__(self) -> str:
        return f"_StorageType({self.name})"


class _Storage:
    """A loaded storage: the flat element array of one ``data/<key>`` entry."""

    __slots__ = ("key", "flat")

    def __init__(self, key: str, flat: np.ndarray) -> None:
        self.key = key
        self.flat = flat


class _Rebuilder:
    """Callable stand-ins for ``torch._utils._rebuild_tensor{,_v2}``.

    They only index into a :class:`_Storage` that ``persistent_load`` built;
    the result is a fresh C-contiguous ``np.ndarray`` in native byte order.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def tensor(self, storage, storage_offset, size, stride):
        """``_rebuild_tensor(storage, storage_offset, size, stride)``."""
        return _strided_copy(self.path, storage, storage_offset, size, stride)

    def tensor_v2(self, storage, storage_offset, size, stride, requires_grad,
                  backward_hooks, metadata=None):
        """``_rebuild_tensor_v2(storage, storage_offset, size, stride,
        requires_grad, backward_hooks, metadata=None)``.

        ``requires_grad`` is irrelevant for NumPy.  ``backward_hooks`` is an
        (empty) OrderedDict in every sane file; hooks would be globals, which
        the unpickler has already refused.  ``metadata`` carries the conj/neg
        view bits; a set bit would change the values, so it is refused.
        """
        if metadata and any(bool(v) for v in dict(metadata).values()):
            raise ValueError(
                f"unsupported tensor metadata {dict(metadata)!r} in {self.path}")
        return self.tensor(storage, storage_offset, size, stride)

    def parameter(self, data, requires_grad, backward_hooks):
        """``_rebuild_parameter(data, requires_grad, backward_hooks)``:
        a Parameter is its data (used only with ``allow_pickled_module``)."""
        if not isinstance(data, np.ndarray):
            raise ValueError(f"_rebuild_parameter got {type(data).__name__}, "
                             f"not a tensor, in {self.path}")
        return data


def _int_tuple(value: Any, what: str, path: str) -> tuple[int, ...]:
    """Validate a pickled size/stride: a tuple of non-negative ints."""
    if not isinstance(value, (tuple, list)) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0
            for v in value):
        raise ValueError(f"bad tensor {what} {value!r} in {path}")
    return tuple(value)


def _strided_copy(path, storage, storage_offset, size, stride) -> np.ndarray:
    """Materialise ``storage[offset + sum(i_k * stride_k)]`` as a contiguous
    array of shape ``size``; strides and offset are in elements."""
    if not isinstance(storage, _Storage):
        raise ValueError(f"tensor storage is {type(storage).__name__}, not a "
                         f"persistent storage, in {path}")
    size = _int_tuple(size, "size", path)
    stride = _int_tuple(stride, "stride", path)
    if len(size) != len(stride):
        raise ValueError(f"tensor size {size} and stride {stride} differ in "
                         f"rank in {path}")
    if (not isinstance(storage_offset, int) or isinstance(storage_offset, bool)
            or storage_offset < 0):
        raise ValueError(f"bad storage offset {storage_offset!r} in {path}")
    flat = storage.flat
    if 0 in size:
        return np.zeros(size, dtype=flat.dtype.newbyteorder("="))
    extent = storage_offset + 1 + sum((n - 1) * s for n, s in zip(size, stride))
    if extent > flat.size:
        raise ValueError(
            f"tensor (offset {storage_offset}, size {size}, stride {stride}) "
            f"needs {extent} elements but storage key {storage.key!r} holds "
            f"{flat.size}, in {path}")
    view = np.lib.stride_tricks.as_strided(
        flat[storage_offset:], shape=size,
        strides=tuple(s * flat.itemsize for s in stride), writeable=False)
    return np.array(view, dtype=flat.dtype.newbyteorder("="), order="C",
                    copy=True)


class _PickledObject:
    """Inert placeholder for an instance of an arbitrary pickled class.

    Used only with ``allow_pickled_module=True``.  Creating it (REDUCE,
    NEWOBJ) records the arguments; BUILD hands the state to
    :meth:`__setstate__`, which just stores it.  No code of the named class
    exists here, so none can run.
    """

    _pickled_global = ("?", "?")

    def __new__(cls, *args, **kwargs):
        self = object.__new__(cls)
        self._pickled_args = args
        self._pickled_state = None
        return self

    def __init__(self, *args, **kwargs) -> None:
        pass

    def __setstate__(self, state) -> None:
        self._pickled_state = state

    def __repr__(self) -> str:
        return "<placeholder for %s.%s>" % self._pickled_global


def _set_standin(iterable=()):
    """Stand-in for ``builtins.set`` (a Module's non-persistent buffer names)."""
    return set(iterable)


# --------------------------------------------------------------------------
# The restricted unpickler
# --------------------------------------------------------------------------
class _StateDictUnpickler(pickle.Unpickler):
    """Unpickler for ``<archive>/data.pkl`` that resolves only a whitelist.

    Resolved globals (and why):

    * ``collections.OrderedDict`` - the state dict container itself and every
      tensor's (empty) ``backward_hooks``; a plain dict subclass, harmless.
    * ``torch._utils._rebuild_tensor_v2`` / ``_rebuild_tensor`` - one call per
      tensor; mapped to :class:`_Rebuilder` methods that slice NumPy arrays.
    * ``torch.<Name>Storage`` for the names in :data:`STORAGE_DTYPES` - the
      storage type inside each persistent id; mapped to :class:`_StorageType`.

    With ``allow_pickled_module=True`` (a whole ``torch.save(model)``) also:

    * ``torch._utils._rebuild_parameter`` - an ``nn.Parameter`` is its data;
    * ``builtins.set`` (``__builtin__.set`` in protocol 2) - the
      ``_non_persistent_buffers_set`` of every Module;
    * every other global - a fresh :class:`_PickledObject` subclass (inert
      placeholder, nothing imported).

    Anything else raises ``ValueError("refusing to unpickle module.name from
    path")`` from ``find_class``, i.e. before the pickle can call it.
    ``persistent_load`` accepts only ``('storage', type, key, location,
    numel)`` and reads the bytes from ``<prefix>/data/<key>``.
    """

    def __init__(self, file, *, zf: zipfile.ZipFile, prefix: str, path: str,
                 allow_pickled_module: bool) -> None:
        super().__init__(file)
        self._zf = zf
        self._prefix = prefix
        self._path = path
        self._allow_module = allow_pickled_module
        self._rebuild = _Rebuilder(path)
        self._raw: dict[str, bytes] = {}
        self._placeholders: dict[tuple[str, str], type] = {}

    def find_class(self, module: str, name: str):  # noqa: D401
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return self._rebuild.tensor_v2
        if module == "torch._utils" and name == "_rebuild_tensor":
            return self._rebuild.tensor
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name, STORAGE_DTYPES[name])
        if self._allow_module:
            if module == "torch._utils" and name == "_rebuild_parameter":
                return self._rebuild.parameter
            if module in ("builtins", "__builtin__") and name == "set":
                return _set_standin
            key = (str(module), str(name))
            if key not in self._placeholders:
                self._placeholders[key] = type(
                    "Placeholder", (_PickledObject,), {"_pickled_global": key})
            return self._placeholders[key]
        raise ValueError(f"refusing to unpickle {module}.{name} from {self._path}")

    def persistent_load(self, pid):
        path = self._path
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise ValueError(f"unexpected persistent id {pid!r} in {path}")
        _, storage_type, key, _location, numel = pid
        if not isinstance(storage_type, _StorageType):
            raise ValueError(f"persistent id {pid!r} has no storage type in {path}")
        if storage_type.dtype is None:
            raise ValueError(
                f"storage key {key!r} in {path} is torch.{storage_type.name}; "
                "NumPy has no bfloat16 - convert the checkpoint to float32 "
                "with torch before exporting")
        if not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
            raise ValueError(f"bad persistent id {pid!r} in {path}")
        dtype = storage_type.dtype
        if key not in self._raw:
            self._raw[key] = self._read_record(key, numel * dtype.itemsize)
        raw = self._raw[key]
        if len(raw) != numel * dtype.itemsize:  # same key reused, other dtype
            raise ValueError(
                f"storage key {key!r} in {path}: {len(raw)} bytes do not hold "
                f"{numel} x {dtype.name}")
        return _Storage(key, np.frombuffer(raw, dtype=dtype))

    def _read_record(self, key: str, nbytes: int) -> bytes:
        name = f"{self._prefix}/data/{key}"
        try:
            info = self._zf.getinfo(name)
        except KeyError:
            raise ValueError(f"missing zip entry {name!r} for storage key "
                             f"{key!r} in {self._path} (truncated or corrupt "
                             "checkpoint)") from None
        if info.file_size != nbytes:  # checked before reading anything
            raise ValueError(
                f"storage key {key!r} in {self._path}: entry holds "
                f"{info.file_size} bytes, persistent id declares {nbytes}")
        try:
            return self._zf.read(info)
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise ValueError(f"cannot read entry {name!r} of {self._path} "
                             f"(truncated or corrupt zip): {exc}") from exc


class _NoGlobalsUnpickler(pickle.Unpickler):
    """Reads plain data only (used to sniff the legacy magic number)."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError("globals are not allowed here")

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent ids are not allowed here")


# --------------------------------------------------------------------------
# Container handling
# --------------------------------------------------------------------------
def _is_legacy_stream(head: bytes) -> bool:
    """True if ``head`` starts with a pickled :data:`LEGACY_MAGIC_NUMBER`."""
    try:
        return _NoGlobalsUnpickler(io.BytesIO(head)).load() == LEGACY_MAGIC_NUMBER
    except Exception:  # any garbage: simply not a legacy stream
        return False


def _open_zip(path: str) -> zipfile.ZipFile:
    """Open ``path`` as a zip, turning every container problem into a
    ``ValueError`` that names the file."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    if not head.startswith(_ZIP_MAGICS):
        if _is_legacy_stream(head):
            raise ValueError(
                f"{path} is a legacy (non-zip) PyTorch checkpoint; re-save it "
                "with torch>=1.6 `torch.save(..., "
                "_use_new_zipfile_serialization=True)`")
        if head[257:262] == b"ustar":
            raise ValueError(
                f"{path} is a legacy tar-format PyTorch checkpoint; re-save it "
                "with torch>=1.6 `torch.save(..., "
                "_use_new_zipfile_serialization=True)`")
        raise ValueError(f"{path} is not a zip-format PyTorch checkpoint "
                         f"(starts with {head[:8]!r})")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ValueError(f"{path} is a truncated or corrupt zip "
                         f"(PyTorch checkpoint): {exc}") from exc


def _find_prefix(zf: zipfile.ZipFile, path: str) -> str:
    """The archive folder name: the X of the single ``X/data.pkl`` entry."""
    names = zf.namelist()
    pkls = [n for n in names if n.endswith(_PKL_SUFFIX)]
    if len(pkls) != 1:
        raise ValueError(f"{path}: expected exactly one '<archive>/data.pkl' "
                         f"entry, found {pkls!r}")
    prefix = pkls[0][: -len(_PKL_SUFFIX)]
    if f"{prefix}/constants.pkl" in names:
        raise ValueError(f"{path} is a TorchScript archive (torch.jit.save), "
                         "not a torch.save checkpoint")
    return prefix


def _check_byteorder(zf: zipfile.ZipFile, prefix: str, path: str) -> None:
    """Storages are little-endian unless ``<prefix>/byteorder`` says big."""
    name = f"{prefix}/byteorder"
    if name not in zf.namelist():
        return  # absent in files from older torch: little-endian
    mark = zf.read(name).strip()
    if mark == b"big":
        raise ValueError(f"{path} was saved on a big-endian machine "
                         "(byteorder 'big'); only little-endian checkpoints "
                         "are supported")
    if mark != b"little":
        raise ValueError(f"{path}: unknown byteorder record {mark!r}")


def _is_tensor_map(obj: Any) -> bool:
    return (isinstance(obj, Mapping) and len(obj) > 0
            and all(isinstance(v, np.ndarray) for v in obj.values()))


def _module_state_dict(root: _PickledObject, path: str) -> dict[str, np.ndarray]:
    """Rebuild ``Module.state_dict()`` from an inert pickled module tree.

    Mirrors the default order: own ``_parameters`` (non-None), then
    ``_buffers`` not listed in ``_non_persistent_buffers_set``, then each
    child of ``_modules`` under ``<name>.``.  Modules that customise
    ``state_dict`` via registered hooks are refused; overrides of
    ``_save_to_state_dict``/``get_extra_state`` cannot be detected.
    """
    out: dict[str, np.ndarray] = {}

    def walk(mod: Any, prefix: str, active: tuple[int, ...]) -> None:
        state = mod._pickled_state if isinstance(mod, _PickledObject) else None
        where = prefix.rstrip(".") or "<root>"
        if not isinstance(state, dict) or not all(
                isinstance(state.get(k), Mapping)
                for k in ("_parameters", "_buffers", "_modules")):
            raise ValueError(f"{path}: {where} ({mod!r}) is not a pickled "
                             "nn.Module")
        if id(mod) in active:
            raise ValueError(f"{path}: module cycle at {where}")
        for hooks in ("_state_dict_hooks", "_state_dict_pre_hooks"):
            if state.get(hooks):
                raise ValueError(f"{path}: {where} has {hooks}; its "
                                 "state_dict cannot be reproduced without torch")
        skip = state.get("_non_persistent_buffers_set") or set()
        items = list(state["_parameters"].items()) + [
            (k, v) for k, v in state["_buffers"].items() if k not in skip]
        for name, value in items:
            if value is None:
                continue
            if not isinstance(value, np.ndarray):
                raise ValueError(f"{path}: {prefix}{name} is "
                                 f"{type(value).__name__}, not a tensor")
            out[prefix + name] = value
        for name, child in state["_modules"].items():
            if child is not None:
                walk(child, f"{prefix}{name}.", active + (id(mod),))

    walk(root, "", ())
    return out


def _as_state_dict(obj: Any, path: str) -> dict[str, np.ndarray]:
    """Find the name -> array mapping in the unpickled object.

    Accepts the mapping itself, a dict wrapping it under one of
    ``state_dict``/``model``/``params`` (other wrapper entries, e.g. an epoch
    counter, are ignored), or - only reachable with
    ``allow_pickled_module`` - a pickled module tree.
    """
    for _ in range(4):  # a wrapper of a wrapper at most, in practice
        if isinstance(obj, _PickledObject):
            obj = _module_state_dict(obj, path)
        if _is_tensor_map(obj):
            break
        if isinstance(obj, Mapping):
            inner = next((obj[k] for k in _WRAPPER_KEYS if k in obj
                          and isinstance(obj[k], (Mapping, _PickledObject))), None)
            if inner is not None:
                obj = inner
                continue
            bad = [k for k, v in obj.items() if not isinstance(v, np.ndarray)]
            raise ValueError(
                f"{path} does not hold a mapping of names to tensors "
                f"({len(obj)} entries; not tensors: {bad[:5]!r})")
        raise ValueError(f"{path} holds a {type(obj).__name__}, not a state "
                         "dict (mapping of names to tensors)")
    else:
        raise ValueError(f"{path}: state dict nested too deeply")

    result: dict[str, np.ndarray] = {}
    for key, value in obj.items():
        if not isinstance(key, str):
            raise ValueError(f"{path}: state dict key {key!r} is not a string")
        name = key[len("module."):] if key.startswith("module.") else key
        if name in result:
            raise ValueError(f"{path}: key {key!r} collides with {name!r} "
                             "after stripping 'module.'")
        result[name] = value
    return result


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------
def read_torch_state_dict(path: str | os.PathLike, *,
                          allow_pickled_module: bool = False
                          ) -> dict[str, np.ndarray]:
    """Read the state dict of a zip-format (torch >= 1.6) ``.pth`` file.

    Parameters
    ----------
    path:
        The checkpoint.
    allow_pickled_module:
        ``False`` (default): only the whitelist of
        :class:`_StateDictUnpickler` is resolved, so only (possibly wrapped)
        tensor state dicts load.  ``True``: also accept a whole pickled model
        (``torch.save(model)``); its classes become inert placeholders and the
        state dict is rebuilt from their ``_parameters``/``_buffers``/
        ``_modules``.  Still nothing from the file is executed.

    Returns
    -------
    dict mapping parameter names (leading ``module.`` stripped) to
    C-contiguous NumPy arrays in native byte order, in file order.

    Raises
    ------
    ValueError
        naming ``path`` for: a legacy or non-zip file, a truncated/corrupt
        zip, missing entries, a refused global, bad tensor geometry, a
        big-endian or bfloat16 checkpoint, or a result that is not a mapping
        of names to tensors.
    """
    path = os.fspath(path)
    zf = _open_zip(path)
    with zf:
        prefix = _find_prefix(zf, path)
        _check_byteorder(zf, prefix, path)
        try:
            pkl = zf.read(f"{prefix}{_PKL_SUFFIX}")
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise ValueError(f"cannot read data.pkl of {path} (truncated or "
                             f"corrupt zip): {exc}") from exc
        unpickler = _StateDictUnpickler(
            io.BytesIO(pkl), zf=zf, prefix=prefix, path=path,
            allow_pickled_module=allow_pickled_module)
        try:
            obj = unpickler.load()
        except ValueError:
            raise
        except Exception as exc:  # malformed pickle stream
            raise ValueError(f"corrupt data.pkl in {path}: "
                             f"{type(exc).__name__}: {exc}") from exc
    return _as_state_dict(obj, path)
