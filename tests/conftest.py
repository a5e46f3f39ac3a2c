import logging
import os
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", message=".*TensorFlow Addons.*")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel(logging.ERROR)
logging.getLogger("larq.layers_base").setLevel(logging.ERROR)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture
def shared_dir():
    """The ../shared folder next to the project; tests needing it skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"../shared not found at {SHARED}: reference data and weights unavailable")
    return SHARED


@pytest.fixture(scope="module")
def eager_functions():
    """Run tf.functions eagerly for a module's tests: they check plumbing, not graph-mode training.

    Tracing a training graph (about a minute for BiSRNet's ~900 variables) pays off only over
    many steps; graph-mode training is tested with the models (tests/models/).
    """
    previous = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(True)
    yield
    tf.config.run_functions_eagerly(previous)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
