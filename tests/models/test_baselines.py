"""The Table 1 baselines as the reference builds them, and the Table 2 ablations (larq_hsi.models.baselines).

Per baseline: float64 parity with the reference fixture
(`../shared/reference/bisci_baselines_fixture.npz`, skipped without it), the
reference's parameter count, the state-dict round trip and a SavedModel round
trip in float32; models at the fixture's 64x64 are built and loaded once per
session. Paper-sized ablation models (256x256) are built once per
configuration and shared (`_model`); building is symbolic, so 256x256 costs
no more than 16x16.
"""

import re

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from larq_hsi import complexity
from larq_hsi.models import baselines as BL
from larq_hsi.models.bisrnet import BiSRBaseModel, part_prefixes, start_at_input
from larq_hsi.models.pretrained import load_reference, reference_state_dict
from larq_hsi.nn import blocks as B
from larq_hsi.nn import layers as L
from larq_hsi.nn import quantizers as Q
from larq_hsi.nn import units as U
from larq_hsi.nn.dtype import default_dtype
from larq_hsi.nn.introspect import find_quantizers
from larq_hsi.nn.quantizers import ScaledApproxSign
from larq_hsi.training.callbacks import EDESchedule

F64 = "float64"

_CACHE = {}
# Rows that are the same configuration (checked in test_identical_rows_are_the_same_configuration).
_SAME = {"2a/+BiFU": "bisr", "2b/+SR+Tanh": "bisr", "2c/tanh": "bisr", "2c/clip": "2b/+SR"}


def _build(key, **kwargs):
    return BL.BinarizedUNet(key, **kwargs) if key in BL.METHODS else BL.ablation(key, **kwargs)


def _model(key):
    """A paper-sized model by method name or ablation name, built once per test session."""
    key = _SAME.get(key, key)
    if key not in _CACHE:
        _CACHE[key] = _build(key)
    return _CACHE[key]


SMALL = dict(input_size=(16, 16), num_blocks=(1, 1))


def _as_built(key):
    """A row or method exactly as its own builder makes it (not through `_SAME`), at 16x16
    with one scale (`num_blocks=(1, 1)`), built once: for layer-list and configuration checks."""
    if ("small", key) not in _CACHE:
        _CACHE["small", key] = _build(key, **SMALL)
    return _CACHE["small", key]


def _small(key):
    """The same, with the rows of `_SAME` sharing one model."""
    return _as_built(_SAME.get(key, key))


def _without_names(value):
    """A config with every `name` entry removed (quantizer instances are numbered per model)."""
    if isinstance(value, dict):
        return {k: _without_names(v) for k, v in value.items() if k != "name"}
    if isinstance(value, (list, tuple)):
        return [_without_names(v) for v in value]
    return value


def _configuration(model, skip=lambda layer: False, drop=()):
    """What a built network is: `{layer name: (class, config)}`, auto-generated names aside.

    `skip` leaves layers out, `drop` removes config keys (e.g. "input_quantizer").
    """
    return {
        layer.name: (type(layer).__name__,
                     _without_names({k: v for k, v in layer.get_config().items() if k not in drop}))
        for layer in model.layers if not skip(layer)
    }


@pytest.mark.parametrize("row,same", sorted(_SAME.items()))
def test_identical_rows_are_the_same_configuration(row, same):
    """`_SAME` shares one built model between rows: each pair must build the same network."""
    assert _configuration(_as_built(row)) == _configuration(_as_built(same))


def test_only_the_identical_rows_are_the_same_configuration():
    rows = ["bisr"] + [n for n in BL.ablation_names() if n not in _SAME]
    configurations = [_configuration(_as_built(n)) for n in rows]
    for i, (a, first) in enumerate(zip(rows, configurations)):
        for b, second in zip(rows[i + 1:], configurations[i + 1:]):
            assert first != second, (a, b)


def _binary_convs(model):
    return [l for l in model.layers if isinstance(l, lq.layers.QuantConv2D)]


# --------------------------------------------------------------------------- estimators


def _grad(fn, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return y.numpy(), tape.gradient(y, x).numpy()


def _np_sign(x):
    return np.where(x >= 0, 1.0, -1.0)


X = np.linspace(-2.5, 2.5, 101)


@pytest.mark.parametrize("epoch,epochs,t,k", [(0, 10, 0.1, 10.0), (5, 10, 1.0, 1.0), (10, 10, 10.0, 1.0),
                                              (3, 300, 0.1 * 100 ** (3 / 300), 1 / (0.1 * 100 ** (3 / 300)))])
def test_ede_schedule_values(epoch, epochs, t, k):
    # IRNet: t = Tmin 10^(i/N log10(Tmax/Tmin)), k = max(1/t, 1), Tmin = 0.1, Tmax = 10
    assert Q.ede_parameters(epoch, epochs) == pytest.approx((t, k))
    assert EDESchedule(epochs).values(epoch) == pytest.approx((t, k))


@pytest.mark.parametrize("t,k", [(0.1, 10.0), (1.0, 1.0), (3.0, 1.0)])
def test_ede_gradient_is_k_t_sech2(t, k):
    q = Q.EDESign(t=t, k=k, dtype=F64)
    y, g = _grad(q, X)
    np.testing.assert_array_equal(y, _np_sign(X))
    np.testing.assert_allclose(g, k * t * (1 - np.tanh(t * X) ** 2), rtol=1e-12, atol=1e-14)
    assert not q.t.trainable and not q.k.trainable
    assert q.precision == 1


def test_libra_pb_forward_and_gradient(rng):
    w = rng.normal(0.3, 0.2, size=(3, 3, 4, 5))
    t, k = 2.0, 1.0
    q = Q.LibraPBSign(t=t, k=k, dtype=F64)
    y, g = _grad(q, w)
    flat = w.reshape(-1, 5)
    w_hat = (flat - flat.mean(0)) / flat.std(0, ddof=1)  # balanced, standardized per output channel
    s = 2.0 ** np.round(np.log2(np.abs(w_hat).mean(0)))  # bit-shift scale
    np.testing.assert_allclose(y.reshape(-1, 5), s * _np_sign(w_hat), rtol=1e-12)
    # backward: EDE on w_hat, the standardization differentiated exactly, s a constant
    wt = tf.constant(w)
    with tf.GradientTape() as tape:
        tape.watch(wt)
        surrogate = tf.constant(s) * k * tf.tanh(t * Q.libra_pb_standardize(wt))
    np.testing.assert_allclose(g, tape.gradient(surrogate, wt).numpy(), rtol=1e-9, atol=1e-12)
    assert np.abs(g).sum() > 0


@pytest.mark.parametrize(
    "quantizer,forward,gradient",
    [
        ("ste_sign", lambda x: _np_sign(x), lambda x: (np.abs(x) <= 1) * 1.0),  # BNN, BiConnect: clip STE
        ("approx_sign", lambda x: _np_sign(x),  # Bi-Real, ReActNet, BTM, BBCU: 2 - 2|x|
         lambda x: np.where(np.abs(x) <= 1, 2 - 2 * np.abs(x), 0.0)),
        (Q.TanhSign(alpha=1.7), lambda x: _np_sign(x), lambda x: 1.7 * (1 - np.tanh(1.7 * x) ** 2)),
    ],
    ids=["clip", "quad", "tanh"],
)
def test_activation_estimators(quantizer, forward, gradient):
    with default_dtype(F64):
        q = Q.make_quantizer(quantizer)
    y, g = _grad(q, X)
    np.testing.assert_array_equal(y, forward(X))
    np.testing.assert_allclose(g, gradient(X), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "quantizer,scaled_forward,gradient",
    [
        ("ste_sign", False, lambda w, m: (np.abs(w) <= 1) * 1.0),  # BNN / BiConnect: no scale
        ("magnitude_aware_sign", True, lambda w, m: m * (np.abs(w) <= 1)),  # Bi-Real: magnitude-aware
        ("scaled_sign", True, lambda w, m: (np.abs(w) <= 1) * 1.0),  # ReActNet, BBCU, BiSRNet
        (ScaledApproxSign(), True, lambda w, m: np.where(np.abs(w) <= 1, 2 - 2 * np.abs(w), 0.0)),  # BTM
    ],
    ids=["bnn", "bireal", "scaled", "btm"],
)
def test_weight_estimators(quantizer, scaled_forward, gradient, rng):
    w = rng.normal(scale=0.8, size=(3, 3, 2, 4))
    m = np.abs(w).mean(axis=(0, 1, 2))
    with default_dtype(F64):
        q = Q.make_quantizer(quantizer)
    y, g = _grad(q, w)
    np.testing.assert_allclose(y, (m if scaled_forward else 1.0) * _np_sign(w), rtol=1e-12)
    np.testing.assert_allclose(g, gradient(w, m), rtol=1e-12, atol=1e-12)


def test_rsign_threshold_gradient(rng):
    """ReActNet's RSign sign(x - alpha) = approx_sign(x + b): d/db is the ApproxSign gradient of x + b."""
    x = rng.uniform(-1.5, 1.5, size=(2, 3, 3, 4))
    bias = L.LearnableBias(dtype=F64)
    with default_dtype(F64):
        sign = Q.make_quantizer("approx_sign")
    bias.build(x.shape)
    bias.bias.assign([0.3, -0.2, 0.0, 0.5])
    with tf.GradientTape() as tape:
        y = sign(bias(x))
    z = x + bias.bias.numpy()
    np.testing.assert_array_equal(y.numpy(), _np_sign(z))
    expected = np.where(np.abs(z) <= 1, 2 - 2 * np.abs(z), 0.0).sum(axis=(0, 1, 2))
    np.testing.assert_allclose(tape.gradient(y, bias.bias).numpy(), expected, rtol=1e-12)


def test_feature_normalization(rng):
    x = rng.normal(2.0, 3.0, size=(2, 5, 4, 3))
    out = L.FeatureNormalization(dtype=F64)(x).numpy()
    mean, var = x.mean(axis=(1, 2), keepdims=True), x.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-12)
    assert not L.FeatureNormalization().weights


# --------------------------------------------------------------------------- the reference baselines
#
# `BinarizedUNet(method)` is the reference's structure (bisci-baselines-reference.md). The
# fixture holds a perturbed reference state dict per method, one 64x64 input and the
# reference's float64 output; each model is built and loaded once per session.

BASELINES = BL.BASELINE_METHODS
FIXTURE_SIZE = (64, 64)
# BatchNorm running statistics of the reference (buffers, not parameters), per method.
BN_STATISTICS = {"bbcu": 0, "biconnect": 7_952, "bireal": 8_288, "btm": 0, "reactnet": 7_952,
                 "irnet": 8_288, "bnn": 8_624}
# Binary kernel weights per method (the reference doc's per-kind table).
BINARY_KERNELS = {"bbcu": 611_072, "biconnect": 611_072, "bireal": 618_912, "btm": 611_072,
                  "reactnet": 611_072, "irnet": 596_960, "bnn": 604_800}
# Binary convs whose input stays full precision: BiConnect's all but net.3, embedding and
# mapping; Bi-Real's mapping and two downsample shortcuts; ReActNet's mapping.
REAL_INPUT_CONVS = {"biconnect": 33 - 5 - 2, "bireal": 3, "reactnet": 1}


@pytest.fixture(scope="session")
def baseline_fixture():
    from tests.conftest import SHARED

    path = SHARED / "reference" / "bisci_baselines_fixture.npz"
    if not path.exists():
        pytest.skip(f"{path} not found: the baselines' reference fixture lives in ../shared/")
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def _state(fixture, method):
    """The fixture's reference state dict of `method`, the `method/` prefix stripped."""
    prefix = f"{method}/"
    return {k[len(prefix):]: v for k, v in fixture.items()
            if k.startswith(prefix) and k != f"{method}/output_float64"}


def _fixture_inputs(fixture, dtype):
    h = fixture["H"][None].astype(dtype)
    mask = np.repeat(fixture["mask"][None, ..., None], 28, axis=-1).astype(dtype)
    return [h, mask]


def _loaded(fixture, method, dtype):
    """`BinarizedUNet(method)` at the fixture's size in `dtype`, with the fixture's weights, built once."""
    key = ("loaded", method, dtype)
    if key not in _CACHE:
        model = BL.BinarizedUNet(method, input_size=FIXTURE_SIZE, dtype=dtype)
        _CACHE[key] = load_reference(model, _state(fixture, method), where=f"fixture {method}")
    return _CACHE[key]


@pytest.mark.parametrize("method", BASELINES)
def test_float64_parity_with_the_reference(baseline_fixture, method):
    model = _loaded(baseline_fixture, method, F64)
    out = model(_fixture_inputs(baseline_fixture, F64), training=False).numpy()[0]
    assert out.dtype == np.float64
    diff = np.abs(out - baseline_fixture[f"{method}/output_float64"])
    assert diff.mean() < 1e-9, diff.mean()
    assert diff.max() < 1e-7, diff.max()


@pytest.mark.parametrize("method", BASELINES)
def test_parameter_counts_are_the_references(baseline_fixture, method):
    model = _loaded(baseline_fixture, method, F64)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    state = _state(baseline_fixture, method)
    # PyTorch's parameters(): every state tensor but the running statistics.
    parameters = sum(v.size for k, v in state.items() if not k.endswith(("running_mean", "running_var")))
    assert trainable == parameters == BL.REFERENCE_PARAMS[method]
    ede = [q for _, _, q in find_quantizers(model) if isinstance(q, (Q.EDESign, Q.LibraPBSign))]
    assert bool(ede) == (method == "irnet")  # IRNet's t and k: plain tensors in the reference
    assert frozen == BN_STATISTICS[method] + 2 * len(ede)
    assert complexity.profile(model).binary_params == BINARY_KERNELS[method]


@pytest.mark.parametrize("method", BASELINES)
def test_state_dict_exports_back_to_the_fixture_exactly(baseline_fixture, method):
    """The ground truth is the fixture, so an error shared by `load_reference` and
    `reference_state_dict` cannot cancel out."""
    expected = _state(baseline_fixture, method)
    exported = reference_state_dict(_loaded(baseline_fixture, method, F64))
    assert sorted(exported) == sorted(expected)  # every tensor consumed, no Keras variable left over
    for key, value in expected.items():
        assert exported[key].shape == value.shape, (key, exported[key].shape, value.shape)
        np.testing.assert_array_equal(exported[key], value, err_msg=key)


@pytest.mark.parametrize("method", BASELINES)
def test_savedmodel_round_trip_in_float32(baseline_fixture, method, tmp_path):
    model = BL.BinarizedUNet(method, input_size=FIXTURE_SIZE)
    load_reference(model, _state(baseline_fixture, method))
    x = _fixture_inputs(baseline_fixture, "float32")
    out = model(x, training=False).numpy()
    model.save(str(tmp_path / method), save_traces=False)
    restored = tf.keras.models.load_model(str(tmp_path / method))
    np.testing.assert_array_equal(restored(x, training=False).numpy(), out)
    assert [l.name for l in restored.layers] == [l.name for l in model.layers]
    exported = reference_state_dict(restored)  # the restored layers still map to the reference
    for key, value in _state(baseline_fixture, method).items():
        np.testing.assert_array_equal(exported[key], value, err_msg=key)
    # float32 agrees with the float64 reference statistically (BiConnect's unscaled
    # +-1 kernels and 3e4 running variances leave it the least precise).
    reference = baseline_fixture[f"{method}/output_float64"]
    psnr = 10 * np.log10(np.ptp(reference) ** 2 / np.mean((out[0] - reference) ** 2))
    assert psnr > (30 if method == "biconnect" else 100), psnr


@pytest.mark.parametrize("method", BASELINES)
def test_larq_summary_counts_every_binary_conv_at_one_bit(baseline_fixture, method):
    model = _loaded(baseline_fixture, method, F64)
    rows = {r.name: r for r in lq.models.ModelProfile(model).layer_profiles}
    convs = _binary_convs(model)
    assert convs and all(type(c).__name__ != "Conv2D" for c in convs)
    for conv in convs:
        assert rows[conv.name].weight_count(bitwidth=1) == int(np.prod(conv.kernel.shape)), conv.name
    real_inputs = [c.name for c in convs if rows[c.name].input_precision != 1]
    assert len(real_inputs) == REAL_INPUT_CONVS.get(method, 0), real_inputs
    assert all(c.input_quantizer is None for c in convs if c.name in real_inputs)


def test_loader_names_missing_unexpected_and_misshapen_tensors(baseline_fixture):
    model = _loaded(baseline_fixture, "bireal", F64)
    state = _state(baseline_fixture, "bireal")
    key = "body.0.embedding.weight"  # a flat (7056, 1) kernel
    with pytest.raises(ValueError, match=re.escape(key)):
        load_reference(model, {k: v for k, v in state.items() if k != key})
    with pytest.raises(ValueError, match="unexpected tensor 'body.0.extra.bias'"):
        load_reference(model, {**state, "body.0.extra.bias": np.zeros(3)})
    with pytest.raises(ValueError, match=re.escape(key) + ".*shape"):
        load_reference(model, {**state, key: state[key][:-1]})
    with pytest.raises(ValueError, match="shape"):  # a 4-D kernel where Bi-Real stores it flat
        load_reference(model, {**state, key: np.zeros((28, 28, 3, 3), "float32")})
    # PyTorch's num_batches_tracked counters are not weights; they are skipped.
    counters = {k.replace("running_mean", "num_batches_tracked"): np.array(1) for k in state
                if k.endswith("running_mean")}
    assert counters
    load_reference(model, {**state, **counters})


def _small_baseline(method, **kwargs):
    if ("small baseline", method) not in _CACHE:
        _CACHE["small baseline", method] = BL.BinarizedUNet(method, input_size=(16, 16), num_blocks=(1, 1),
                                                            **kwargs)
    return _CACHE["small baseline", method]


def _gradients(model, rng):
    x = [rng.uniform(size=(1, 16, 16, 28)).astype("float32") for _ in model.inputs]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x, training=True)))
    variables = model.trainable_variables
    return dict(zip([v.name for v in variables], tape.gradient(loss, variables))), variables


@pytest.mark.parametrize("method", ["biconnect", "bnn", "bbcu"])
def test_biconnect_and_bnn_binary_kernels_never_train(method, rng):
    """The reference overwrites the kernels with their first-forward signs at every forward,
    so optimizer updates are lost: a zero gradient. Other methods' kernels do train."""
    model = _small_baseline(method)
    grads, _ = _gradients(model, rng)
    frozen = method != "bbcu"
    for conv in _binary_convs(model):
        grad = grads[conv.kernel.name]
        assert grad is not None, conv.name  # a gradient (zero), not None: optimizers see every variable
        assert (np.abs(grad.numpy()).max() == 0) == frozen, conv.name
        assert isinstance(conv.kernel_quantizer, Q.FrozenSign) == frozen
    norms = [v.name for v in model.trainable_variables if "bn1" in v.name or ".norm" in v.name]
    assert norms and all(np.abs(grads[n].numpy()).max() > 0 for n in norms)  # everything else trains


def test_irnet_keeps_its_ede_variables_for_the_schedule():
    """The reference's k = 10, t = 0.1 are fixed; the CASSI recipe's `EDESchedule` still finds them."""
    model = _small_baseline("irnet")
    quantizers = [q for _, _, q in find_quantizers(model)]
    assert quantizers and all(isinstance(q, (Q.TorchEDESign, Q.TorchLibraPBSign)) for q in quantizers)
    values = np.array([(q.t.numpy(), q.k.numpy()) for q in quantizers])  # float32 variables here
    np.testing.assert_allclose(values, np.broadcast_to([0.1, 10.0], values.shape), rtol=1e-7)
    schedule = EDESchedule(4)
    schedule.set_model(model)
    schedule.on_train_begin()
    schedule.on_epoch_begin(2)
    t, k = Q.ede_parameters(2, 4)
    assert t != 0.1
    np.testing.assert_allclose([(q.t.numpy(), q.k.numpy()) for q in quantizers],
                               np.broadcast_to([t, k], (len(quantizers), 2)), rtol=1e-6)


def test_bbcu_scales_the_network_by_14():
    model = _small_baseline("bbcu")
    aligned = {l.name: l for l in model.layers if isinstance(l, L.ResidualAlignment)}
    assert sorted(aligned) == ["align_in", "align_out"]
    assert {l.factor for l in aligned.values()} == {14.0} and aligned["align_out"].inverse
    plain = BL.BinarizedUNet("bbcu", input_size=(16, 16), num_blocks=(1, 1), alignment=None)
    assert not any(isinstance(l, L.ResidualAlignment) for l in plain.layers)


@pytest.mark.parametrize("method", BASELINES)
def test_any_size_model_pads_and_crops(method, rng):
    model = BL.BinarizedUNet(method, input_size=None, num_blocks=(1, 1))
    x = [rng.uniform(size=(1, 12, 20, 28)).astype("float32") for _ in range(2)]
    out = model(x, training=False).numpy()
    assert out.shape == (1, 12, 20, 28) and np.all(np.isfinite(out))


def test_builder_arguments_are_checked():
    with pytest.raises(ValueError, match="unit must be one of"):
        BL.BinarizedUNet("xnor")
    with pytest.raises(ValueError, match="reference's structure"):
        BL.BinarizedUNet("bnn", input_quantizer="tanh_sign")
    with pytest.raises(ValueError, match="alignment"):
        BL.BinarizedUNet("reactnet", alignment=130)
    with pytest.raises(ValueError, match="alignment must be"):
        BL.BinarizedUNet("bbcu", alignment="k*")
    with pytest.raises(ValueError, match="unknown ablation"):
        BL.ablation("2e/nothing")
    assert set(BL.REFERENCE_PARAMS) == set(BASELINES) == set(U.BASELINES)


# --------------------------------------------------------------------------- Table 2


TABLE_2 = ("2a", "2b", "2c", "2d")


def test_ablation_names_partition_the_rows_by_table():
    names = BL.ablation_names()
    assert names == list(BL.ABLATIONS) and len(set(names)) == len(names)
    for table in TABLE_2:
        rows = BL.ablation_names(table)
        assert rows, table
        assert all(n.startswith(f"{table}/") for n in rows), rows
    assert sum((BL.ablation_names(t) for t in TABLE_2), []) == names


@pytest.mark.parametrize("name", BL.ablation_names())
def test_every_ablation_row_builds_and_runs(name, rng):
    model = _as_built(name)
    assert model.input_names == ["H", "Phi"]
    x = [rng.uniform(size=(1, *SMALL["input_size"], 28)).astype("float32") for _ in model.inputs]
    out = model(x).numpy()
    assert out.shape == (1, *SMALL["input_size"], 28)
    assert np.all(np.isfinite(out))


# Where each module sits: the common prefix of its layers, for the normal and the BiSR version alike.
MODULE_AT = {
    "downsample": r"\.encoder_layers\.\d+\.1",
    "upsample": r"\.decoder_layers\.\d+\.0",
    "fusion_down": r"(\.decoder_layers\.\d+\.1|\.fn\.net\.[56])",
    "fusion_up": r"\.fn\.net\.[01]",
}


def _bisr_modules(model):
    """The modules that are BiSR modules in `model`, read from its layer names.

    Every instance of a BiSR module holds two units, `.biconv_1` and `.biconv_2`;
    a normal module holds a single `.binary_conv`. All instances of one module
    (every scale, every block) must be of one kind.
    """
    instances = {}
    for conv in _binary_convs(model):
        name = conv.name.removesuffix(".binary_conv")
        unit = re.search(r"\.(biconv_[12])$", name)
        prefix, part = (name[: unit.start()], unit.group(1)) if unit else (name, "")
        for module, where in MODULE_AT.items():
            if re.search(f"{where}$", prefix):
                instances.setdefault(module, {}).setdefault(prefix, set()).add(part)
    assert set(instances) == set(B.BISR_MODULES), sorted(instances)
    kinds = {}
    for module, found in instances.items():
        for prefix, parts in found.items():
            assert parts in ({"biconv_1", "biconv_2"}, {""}), (prefix, parts)
        kinds[module] = {"bisr" if parts == {"biconv_1", "biconv_2"} else "normal" for parts in found.values()}
        assert len(kinds[module]) == 1, (module, found)
    return {m for m, k in kinds.items() if k == {"bisr"}}


def test_table_2a_rows_are_cumulative():
    rows = BL.ablation_names("2a")
    bisrnet = _bisr_modules(_as_built("bisr"))
    assert bisrnet == set(B.BISR_MODULES)
    modules = [_bisr_modules(_as_built(row)) for row in rows]
    assert modules[0] == set()  # baseline-1: the normal modules throughout
    assert modules[1] == modules[0]  # +BiSR-Conv changes the conv unit, not the modules
    for previous, row, current in zip(modules[1:], rows[2:], modules[2:]):
        assert previous < current and len(current - previous) == 1, (row, previous, current)
    assert modules[-1] == bisrnet


def _is_redistribution(layer):
    return isinstance(layer, L.SpectralRedistribution)


@pytest.mark.parametrize("name", BL.ablation_names("2b") + BL.ablation_names("2c"))
def test_table_2b_2c_rows_differ_from_bisrnet_only_in_estimator_and_redistribution(name):
    model, bisrnet = _as_built(name), _as_built("bisr")
    # Every other layer as BiSRNet's, binary convs included but for their input quantizer.
    assert (_configuration(model, skip=_is_redistribution, drop=("input_quantizer",))
            == _configuration(bisrnet, skip=_is_redistribution, drop=("input_quantizer",)))
    redistribution = {l.name for l in model.layers if _is_redistribution(l)}
    expected = {l.name for l in bisrnet.layers if _is_redistribution(l)}
    assert expected and redistribution in (set(), expected)  # all of BiSRNet's or none
    estimators = {type(c.input_quantizer) for c in _binary_convs(model)}
    assert len(estimators) == 1, estimators  # one activation estimator throughout
    if redistribution and estimators == {type(c.input_quantizer) for c in _binary_convs(bisrnet)}:
        assert _configuration(model) == _configuration(bisrnet)  # both switches as BiSRNet: BiSRNet


@pytest.mark.parametrize("name", BL.ablation_names("2d"))
def test_table_2d_rows_binarize_exactly_their_parts(name):
    parts = BL.ABLATIONS[name].kwargs.get("binarize", ())
    prefixes = part_prefixes(parts)
    model = _as_built(name)
    convs = [l for l in model.layers if isinstance(l, tf.keras.layers.Conv2D)]
    binary = {l.name for l in convs if isinstance(l, lq.layers.QuantConv2D)}
    assert binary == {l.name for l in convs if l.name.startswith(prefixes)}
    for part in parts:
        assert any(n.startswith(part_prefixes([part])) for n in binary), part
    # Outside the binarized parts the row is the full-precision base model.
    if ("small", "base model") not in _CACHE:
        _CACHE["small", "base model"] = BiSRBaseModel(**SMALL)
    base = _CACHE["small", "base model"]
    outside = lambda layer: layer.name.startswith(prefixes)  # noqa: E731
    assert _configuration(model, skip=outside) == _configuration(base, skip=outside)


# Measured Params (K), papers' convention, against Table 2a. From +BiDS on they agree
# within 0.2 K. baseline-1 and +BiSR-Conv are about 2 K above the table: their normal
# downsample is the strided 1-bit conv4x4 C -> 2C the paper describes, 125,440 binary
# weights against the 70,560 of the two 3x3 BiSR-Convs of BiDS (+1.7 K at /32), while
# the table's column rises by 0.01 K from +BiSR-Conv to +BiDS; no conv4x4 C -> 2C fits
# that (the table's OPs column, 1176 M in every row, likewise ignores the modules' MACs:
# ours are 1181 M with the normal modules, 1175 M from +BiDS on).
TABLE_2A_MEASURED = {"2a/baseline-1": (37.12, 1181), "2a/+BiSR-Conv": (37.38, 1181),
                     "2a/+BiDS": (35.67, 1175), "2a/+BiUS": (35.68, 1175),
                     "2a/+BiFD": (35.77, 1175), "2a/+BiFU": (35.82, 1175)}

# Which layers each BiSR module owns (the normal and the BiSR version alike).
MODULE_LAYERS = {
    "downsample": r"\.encoder_layers\.\d+\.1\.",
    "upsample": r"\.decoder_layers\.\d+\.0\.",
    "fusion_down": r"(\.decoder_layers\.\d+\.1\.|\.fn\.net\.[56]\.)",
    "fusion_up": r"\.fn\.net\.[01]\.",
}


@pytest.mark.parametrize("name", BL.ablation_names("2a"))
def test_table_2a_params_and_ops(name):
    f = complexity.paper_figures(_model(name))
    params_k, ops_m = TABLE_2A_MEASURED[name]
    assert f["params_k"] == pytest.approx(params_k, abs=0.005)
    assert round(f["ops_g"] * 1e3) == ops_m
    paper = BL.ABLATIONS[name].paper
    assert abs(f["params_k"] - paper["params_k"]) < (2.6 if name in ("2a/baseline-1", "2a/+BiSR-Conv") else 0.2)


def _layer_set(model):
    return {(l.name, type(l).__name__) for l in model.layers}


def test_table_2a_each_step_changes_only_its_layers():
    rows = BL.ablation_names("2a")
    base, bisr_conv = _model(rows[0]), _model(rows[1])
    # baseline-1 -> +BiSR-Conv: every binary conv gains a redistribution, every unit its residual
    added = _layer_set(bisr_conv) - _layer_set(base)
    assert not _layer_set(base) - _layer_set(bisr_conv)
    assert {kind for _, kind in added} == {"SpectralRedistribution", "Add"}
    assert sum(kind == "SpectralRedistribution" for _, kind in added) == len(_binary_convs(base))
    assert {type(c.input_quantizer).__name__ for c in _binary_convs(base)} == {"SteSign"}
    assert {type(c.input_quantizer).__name__ for c in _binary_convs(bisr_conv)} == {"TanhSign"}
    for previous, row, module in zip(rows[1:], rows[2:], ("downsample", "upsample", "fusion_down", "fusion_up")):
        changed = _layer_set(_model(previous)) ^ _layer_set(_model(row))
        assert changed, row
        outside = [n for n, _ in changed if not re.search(MODULE_LAYERS[module], n)]
        assert not outside, (row, outside[:5])


def test_table_2b_switches():
    base, sr, tanh, both = (_small(n) for n in BL.ablation_names("2b"))
    # SR on: exactly one SpectralRedistribution (`*.move0`) before each binary conv, nothing else
    added = _layer_set(sr) - _layer_set(base)
    assert not _layer_set(base) - _layer_set(sr)
    assert {kind for _, kind in added} == {"SpectralRedistribution"}
    assert {n[: -len("move0")] for n, _ in added} == {c.name[: -len("binary_conv")] for c in _binary_convs(sr)}
    assert _layer_set(both) - _layer_set(tanh) == added
    # Tanh on: the same layers, only the activation estimator of every binary conv changes
    assert _layer_set(tanh) == _layer_set(base)
    for model, kind in ((base, "SteSign"), (sr, "SteSign"), (tanh, "TanhSign"), (both, "TanhSign")):
        assert {type(c.input_quantizer).__name__ for c in _binary_convs(model)} == {kind}
        assert {type(c.kernel_quantizer).__name__ for c in _binary_convs(model)} == {"ScaledSign"}


def test_table_2c_changes_only_the_activation_estimator():
    models = {n: _small(n) for n in BL.ablation_names("2c")}
    reference = _layer_set(models["2c/tanh"])
    estimators = {"2c/clip": "SteSign", "2c/quad": "ApproxSign", "2c/tanh": "TanhSign", "2c/atiste": "ATISTE"}
    for name, model in models.items():
        assert _layer_set(model) == reference, name
        assert {type(c.input_quantizer).__name__ for c in _binary_convs(model)} == {estimators[name]}


@pytest.mark.parametrize("part", ["encoder", "bottleneck", "decoder"])
def test_table_2d_binarizes_only_its_part(part):
    name = f"2d/{part}"
    model = _model(name)
    prefixes = part_prefixes([part])
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.Conv2D) and layer.name.startswith("body."):
            assert isinstance(layer, lq.layers.QuantConv2D) == layer.name.startswith(prefixes), layer.name
    p = BL.ABLATIONS[name].profile(model)
    paper = BL.ABLATIONS[name].paper
    assert p.part_macs / 1e6 == pytest.approx(paper["ops_f_m"], rel=0.01)  # OPs_f of the part
    assert p.part_params == pytest.approx(paper["params_f"], rel=0.001)
    assert p.part_macs / 64 / 1e6 == pytest.approx(paper["ops_b_m"], abs=1)  # OPs_b = OPs_f / 64
    assert p.part_params / 32 == pytest.approx(paper["params_b"], rel=0.001)  # Params_b = Params_f / 32


def test_table_2d_full_precision_base_model():
    model = _model("2d/full-precision")
    p = BL.ABLATIONS["2d/full-precision"].profile(model)
    assert not _binary_convs(model)
    assert p.paper_params == pytest.approx(634e3, rel=1e-3)
    assert p.paper_ops / 1e9 == pytest.approx(10.52, rel=0.01)


@pytest.mark.parametrize("method", BASELINES)
def test_start_at_input_outputs_the_input(method, rng):
    """fution = [I 0], conv_in = delta, conv_out = 0 make every baseline the identity on H;
    BBCU's k = 14 scale in and out (x * 14 / 14) may round by an ulp in float64."""
    model = start_at_input(BL.BinarizedUNet(method, input_size=(16, 16), num_blocks=(1, 1), dtype=F64))
    h = rng.uniform(0, 1, (1, 16, 16, 28))
    phi = rng.integers(0, 2, (1, 16, 16, 28)).astype(np.float64)
    out = model([h, phi][: len(model.inputs)], training=False).numpy()
    assert out.shape == h.shape
    np.testing.assert_allclose(out, h, rtol=0, atol=4e-16 if method == "bbcu" else 0)
