import pytest

from larq_hsi.tasks.restoration.dataset import sample_images


@pytest.fixture(scope="module")
def photos():
    pytest.importorskip("skimage", reason="scikit-image provides the bundled photographs")
    return sample_images(("astronaut", "coffee", "chelsea"))
