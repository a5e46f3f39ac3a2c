"""Every assembled network by name: the one model-name table of the package.

`larq-hsi train --model`, `larq-hsi summary`, the recipes, the examples and
the benchmarks all look models up here. A name maps to an `Entry`: a builder
taking `input_size` (and the builder's own keyword arguments), the task the
network solves, and the input size (and arguments) the papers report its
costs at.

    from larq_hsi.models import registry
    model = registry.build("bbcu-dncnn")                        # at 180x320, BBCU's tables
    model = registry.build("hsbinet", input_size=(32, 32))      # the low-resolution HS size
    model = registry.build("bisrnet", input_size=None)          # any size, for training
    registry.names("cassi")                                     # what `train --task cassi` takes
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import tensorflow as tf

from larq_hsi.models.baselines import METHODS, BinarizedUNet
from larq_hsi.models.bbcu import (
    BBCUDnCNN,
    BBCUDnCNN3,
    BBCUSRResNet,
    DnCNN,
    DnCNN3,
    DnCNN3Lite,
    DnCNNLite,
    SRResNet,
    SRResNetLite,
)
from larq_hsi.models.bisrnet import BiSRBaseModel, BiSRNet
from larq_hsi.models.hsbinet import HSBiNet

__all__ = ["ENTRIES", "Entry", "PAPER_SIZE", "TASKS", "build", "describe", "names"]

#: The tasks the networks solve, as `larq-hsi train --task` names them.
TASKS = ("cassi", "pansharpening", "sr", "denoise", "jpeg")

#: `build(name)`'s default: the input size (and arguments) the papers report costs at.
PAPER_SIZE = object()


@dataclasses.dataclass(frozen=True)
class Entry:
    """`builder(input_size=..., **kwargs)` returns the model; `paper_size`/`paper_kwargs` are the papers'."""

    builder: Callable[..., tf.keras.Model]
    task: str
    description: str
    paper_size: tuple[int, int]
    paper_kwargs: dict = dataclasses.field(default_factory=dict)


def _unet(unit):
    return Entry(lambda **kw: BinarizedUNet(unit, **kw), "cassi",
                 f"BiSRNet's backbone with {unit}'s binary unit (Table 1)", (256, 256))


def _sr(builder, description, **defaults):
    return Entry(lambda scale=4, **kw: builder(scale, **defaults, **kw), "sr", description, (180, 320),
                 {"scale": 4})


#: Every assembled network, by the name the CLI, the recipes and the examples use.
ENTRIES = {
    "bisrnet": Entry(lambda **kw: BiSRNet(**kw), "cassi",
                     "BiSRNet, simulation variant (inputs H and Phi)", (256, 256)),
    "bisrnet-real": Entry(lambda **kw: BiSRNet("real", **kw), "cassi",
                          "BiSRNet, real-system variant (input: the measurement)", (660, 660)),
    "bisrnet-ungrouped": Entry(lambda **kw: BiSRNet(ff_groups=1, **kw), "cassi",
                               "BiSRNet with ungrouped block convs (every binary conv converts to LCE)",
                               (256, 256)),
    "bisr-base": Entry(lambda **kw: BiSRBaseModel(**kw), "cassi",
                       "BiSRNet's full-precision base model", (256, 256)),
    # BiSRNet's Table 1 baselines ("bisr" is BiSRNet itself, above).
    **{f"unet-{unit}": _unet(unit) for unit in METHODS if unit != "bisr"},
    # The size is the low-resolution HS input's (x4 for the PAN); 191 bands as WDC.
    "hsbinet": Entry(lambda bands=191, **kw: HSBiNet(bands, **kw), "pansharpening",
                     "HS-BiNet with ATISTE", (16, 16), {"bands": 191}),
    "bbcu-srresnet-l": _sr(BBCUSRResNet, "BBCU-L: SRResNet, body binarized", preset="L"),
    "bbcu-srresnet-m": _sr(BBCUSRResNet, "BBCU-M: SRResNet, body and upsampling binarized", preset="M"),
    "srresnet": _sr(SRResNet, "SRResNet, full precision"),
    "srresnet-lite": _sr(SRResNetLite, "SRResNet-Lite, full precision, 12 features"),
    "bbcu-dncnn": Entry(BBCUDnCNN, "denoise", "BBCU on DnCNN (colour denoising)", (180, 320)),
    "dncnn": Entry(DnCNN, "denoise", "DnCNN, full precision", (180, 320)),
    "dncnn-lite": Entry(DnCNNLite, "denoise", "DnCNN-Lite, full precision, 12 features", (180, 320)),
    "bbcu-dncnn3": Entry(BBCUDnCNN3, "jpeg", "BBCU on DnCNN-3 (grayscale, JPEG deblocking)", (180, 320)),
    "dncnn3": Entry(DnCNN3, "jpeg", "DnCNN-3, full precision", (180, 320)),
    "dncnn3-lite": Entry(DnCNN3Lite, "jpeg", "DnCNN-3-Lite, full precision, 12 features", (180, 320)),
}


def names(task: str | None = None) -> list[str]:
    """The model names, of one task if given (see `TASKS`)."""
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    return [name for name, entry in ENTRIES.items() if task is None or entry.task == task]


def describe(task: str | None = None) -> str:
    """`name: description` lines, for command-line help."""
    return "; ".join(f"{name} ({ENTRIES[name].description})" for name in names(task))


def build(name: str, input_size=PAPER_SIZE, **kwargs) -> tf.keras.Model:
    """The network `name` at spatial `input_size` (default: the papers' size and arguments).

    `input_size=None` builds a model for any size; `kwargs` go to the builder
    (`dtype`, `unit`, `scale`, `bands`, ...).
    """
    if name not in ENTRIES:
        raise ValueError(f"unknown model {name!r}; expected one of {sorted(ENTRIES)}")
    entry = ENTRIES[name]
    if input_size is PAPER_SIZE:
        input_size = entry.paper_size
        kwargs = {**entry.paper_kwargs, **kwargs}
    return entry.builder(input_size=input_size, **kwargs)
