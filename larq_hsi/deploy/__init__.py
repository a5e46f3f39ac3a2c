"""Deployment: a trained model as a true 1-bit TFLite flatbuffer or a verified SavedModel.

- `tflite`: larq-compute-engine conversion with a per-layer report, and its interpreter.
- `flatbuffer`: reading a flatbuffer's ops back (what the report is built from).
- `savedmodel`: a SavedModel with a named serving signature, reloaded and checked.
"""

from larq_hsi.deploy import flatbuffer, savedmodel, tflite

__all__ = ["flatbuffer", "savedmodel", "tflite"]
