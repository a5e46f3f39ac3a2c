"""The model registry: every assembled network by name, at the papers' or a given size."""

import pytest

from larq_hsi.models import registry


def test_registry_builds_by_name_at_the_papers_or_a_given_size():
    assert {"bisrnet", "bisrnet-real", "hsbinet", "bbcu-dncnn", "unet-reactnet"} <= set(registry.ENTRIES)
    assert "unet-bisr" not in registry.ENTRIES  # that is "bisrnet"
    model = registry.build("bbcu-dncnn3", (24, 40))
    assert tuple(model.inputs[0].shape) == (None, 24, 40, 1)
    real = registry.build("bisrnet-real", (32, 32))
    assert tuple(real.inputs[0].shape) == (None, 32, 32 + 54)  # the measurement is 54 columns wider
    with pytest.raises(ValueError, match="unknown model 'bisrnet-x'.*bisrnet"):
        registry.build("bisrnet-x")
    with pytest.raises(ValueError, match="input_size must be"):
        registry.build("bisrnet", (32,))
