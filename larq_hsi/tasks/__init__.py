"""The three tasks, each with its physics or degradation, data, recipe and evaluation.

- `cassi`: hyperspectral snapshot compressive imaging (BiSRNet).
- `pansharpening`: hyperspectral pan-sharpening (HS-BiNet).
- `restoration`: super-resolution, denoising and JPEG deblocking (BBCU).
"""

from larq_hsi.tasks import cassi, pansharpening, restoration

__all__ = ["cassi", "pansharpening", "restoration"]
