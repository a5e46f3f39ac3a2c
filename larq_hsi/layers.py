"""`larq_hsi.layers`: the stable import path of `larq_hsi.nn.layers` (larq users look here)."""

from larq_hsi.nn.layers import *  # noqa: F401,F403
from larq_hsi.nn.layers import __all__  # noqa: F401
