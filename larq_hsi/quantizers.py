"""`larq_hsi.quantizers`: the stable import path of `larq_hsi.nn.quantizers` (larq users look here)."""

from larq_hsi.nn.quantizers import *  # noqa: F401,F403
from larq_hsi.nn.quantizers import __all__  # noqa: F401
