"""Keras semantics where the names are Keras's: input / output dropout, the nn.Sequential trap,
masks that flow, per-layer regularizers, constraints, initializers and a learned initial state."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import deeprnn
from deeprnn.cells import SimpleRNNCell
from deeprnn.kernels.dispatch import choose
from deeprnn.layers import L1, L1L2, L2, MaxNorm, NonNeg, Recurrent, UnitNorm

IDS = torch.tensor([[3, 4, 5, 0, 0], [1, 2, 0, 0, 0], [0, 0, 0, 0, 0], [6, 7, 8, 9, 1]])


# -- 1. dropout ----------------------------------------------------------------------------------
def test_one_layer_dropout_warns_like_torch_and_says_what_to_use():
    with pytest.warns(deeprnn.DeepRNNWarning, match=r"input_dropout=0.5"):
        deeprnn.LSTM(5, 8, dropout=0.5, return_state=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        deeprnn.LSTM(5, 8, 2, dropout=0.5)  # a second layer to drop before
        deeprnn.GRU(5, 8, dropout=0.0)
        deeprnn.DeepRNN(5, hidden_size=8, dropout=0.5)  # the stack builder used by the tasks


def test_input_dropout_drops_a_one_layer_model_in_training_only():
    x = torch.randn(3, 6, 5)
    layer = deeprnn.LSTM(5, 8, input_dropout=0.5, return_state=False).train()
    assert not torch.equal(layer(x), layer(x))
    plain = deeprnn.LSTM(5, 8, return_state=False)
    plain.load_state_dict(layer.state_dict())
    layer.eval()
    torch.testing.assert_close(layer(x), plain.eval()(x), rtol=0, atol=0)


@pytest.mark.parametrize("same", [True, False])
def test_input_dropout_same_mask_over_time(same):
    """With W_hh = 0 and the identity activation, y_t = W_ih (m_t * x_t): a constant input
    gives a constant output exactly when the mask is the same at every step (Keras)."""
    cell = SimpleRNNCell(16, 16, activation="identity", bias=False)
    with torch.no_grad():
        cell.weight_hh.zero_()
    layer = Recurrent(cell, input_dropout=0.5, input_dropout_same_mask=same, return_state=False)
    out = layer.train()(torch.ones(4, 7, 16))
    constant = torch.equal(out, out[:, :1].expand_as(out))
    assert constant is same


def test_input_dropout_keeps_the_torch_fast_path():
    layer = deeprnn.LSTM(5, 8, input_dropout=0.3).train()
    assert choose(layer.blocks[0], torch.randn(2, 3, 5), None).impl == "torch"


def test_output_dropout_summary_is_the_dropped_last_real_output():
    torch.manual_seed(0)
    layer = deeprnn.GRU(3, 64, output_dropout=0.5, return_state=False).train()
    x, lengths = torch.randn(4, 6, 3), torch.tensor([6, 2, 0, 4])
    torch.manual_seed(1)
    out = layer(x, lengths=lengths)
    assert 0.35 < (out[0] == 0).float().mean() < 0.65
    layer.return_sequences = False
    torch.manual_seed(1)
    last = layer(x, lengths=lengths)
    for n, length in enumerate(lengths.tolist()):
        want = out[n, length - 1] if length else torch.zeros(64)
        torch.testing.assert_close(last[n], want, rtol=0, atol=0)


def test_bidirectional_dropout_leaves_eval_on_the_one_call_path():
    x = torch.randn(2, 5, 3)
    layer = deeprnn.LSTM(3, 4, bidirectional=True, input_dropout=0.4, output_dropout=0.4)
    assert not torch.equal(layer.train()(x)[0], layer(x)[0])
    plain = deeprnn.LSTM(3, 4, bidirectional=True)
    plain.load_state_dict(layer.state_dict())
    torch.testing.assert_close(layer.eval()(x)[0], plain.eval()(x)[0], rtol=0, atol=0)


# -- 2. the nn.Sequential trap ---------------------------------------------------------------------
def test_sequential_with_a_default_layer_says_how_to_fix_it():
    model = nn.Sequential(deeprnn.LSTM(3, 4), deeprnn.LSTM(4, 4))
    with pytest.raises(TypeError, match=r"got tuple.*return_state=False.*DeepRNN.*out\[0\]"):
        model(torch.randn(2, 5, 3))
    fixed = nn.Sequential(deeprnn.LSTM(3, 4, return_state=False), deeprnn.LSTM(4, 4))
    assert fixed(torch.randn(2, 5, 3))[0].shape == (2, 5, 4)


# -- 3. masks that flow ----------------------------------------------------------------------------
def test_embedding_mask_flows_through_sequential_like_an_explicit_mask():
    torch.manual_seed(0)
    emb = deeprnn.Embedding(10, 4)
    first = deeprnn.LSTM(4, 6, return_state=False)
    second = deeprnn.GRU(6, 5, bidirectional=True, return_state=False, return_sequences=False)
    flowing = nn.Sequential(emb, first, second)(IDS)
    mask = IDS != 0
    explicit = second(first(emb(IDS), mask=mask), mask=mask)
    torch.testing.assert_close(flowing, explicit, rtol=0, atol=0)
    unmasked = second(first(deeprnn.strip_mask(emb(IDS))))  # strip_mask drops the mask
    assert not torch.allclose(flowing, unmasked)


def test_masking_module_matches_lengths_for_stacks_and_bidirectional():
    torch.manual_seed(1)
    x, lengths = torch.randn(3, 6, 4), torch.tensor([6, 3, 0])
    x[torch.arange(6)[None] >= lengths[:, None]] = 0.0
    for layer in (
        deeprnn.DeepRNN(4, layers=[dict(cell="lstm", hidden_size=5, bidirectional=True), 3]),
        deeprnn.Bidirectional(Recurrent(deeprnn.GRUCell(4, 5))),
    ):
        out_f, st_f = layer(deeprnn.Masking(0.0)(x))
        out_l, st_l = layer(x, lengths=lengths)
        torch.testing.assert_close(out_f, out_l, rtol=0, atol=0)
        for a, b in zip(st_f, st_l):
            torch.testing.assert_close(a.h, b.h, rtol=0, atol=0)
        assert torch.equal(deeprnn.get_mask(out_f), torch.arange(6)[None] < lengths[:, None])


def test_masking_batch_first_false_gives_a_batch_first_mask():
    x = torch.randn(5, 2, 3)  # (T, N, I)
    x[3:, 1] = 0.0
    y = deeprnn.Masking(batch_first=False)(x)
    assert torch.equal(deeprnn.get_mask(y), torch.tensor([[True] * 5, [True] * 3 + [False] * 2]))
    layer = deeprnn.LSTM(3, 4, batch_first=False, return_state=False)
    torch.testing.assert_close(layer(y), layer(x, lengths=torch.tensor([5, 3])), rtol=0, atol=0)


def test_explicit_lengths_win_and_ops_drop_the_mask():
    emb = deeprnn.Embedding(10, 4)
    layer = deeprnn.LSTM(4, 6, return_state=False)
    e = emb(IDS)
    full = torch.full((4,), 5)
    torch.testing.assert_close(layer(e, lengths=full), layer(deeprnn.strip_mask(e)), rtol=0, atol=0)
    assert deeprnn.get_mask(e[:, 1:]) is None  # the time axis changed: the mask cannot hold
    assert deeprnn.get_mask(e.flip(1)) is None
    last = deeprnn.LSTM(4, 6, return_state=False, return_sequences=False)(e)
    assert deeprnn.get_mask(last) is None  # (N, F): nothing to mask


STEPWISE_MODULES = {
    "dropout": lambda: nn.Dropout(0.5),
    "alpha_dropout": lambda: nn.AlphaDropout(0.5),
    "linear": lambda: nn.Linear(4, 4),
    "layer_norm": lambda: nn.LayerNorm(4),
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "identity": nn.Identity,
}


@pytest.mark.parametrize("name", sorted(STEPWISE_MODULES))
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_mask_survives_a_stepwise_module_in_train_and_eval(name, training):
    """Embedding(mask_zero) -> MODULE -> LSTM is masked in training exactly as in evaluation:
    the same output as passing the mask explicitly (issue 26: it was lost in training only)."""
    torch.manual_seed(0)
    emb, between = deeprnn.Embedding(10, 4), STEPWISE_MODULES[name]()
    lstm = deeprnn.LSTM(4, 6, return_state=False, return_sequences=False)
    model = nn.Sequential(emb, between, lstm).train(training)
    torch.manual_seed(1)
    flowing = model(IDS)
    torch.manual_seed(1)
    hidden = deeprnn.strip_mask(between(emb(IDS)))
    assert deeprnn.get_mask(hidden) is None
    explicit = lstm(hidden, mask=IDS != 0)
    torch.testing.assert_close(flowing, explicit, rtol=0, atol=0)
    unmasked = lstm(hidden)
    assert not torch.allclose(flowing, unmasked)


def test_mask_flows_between_recurrent_layers_through_dropout_and_a_projection():
    torch.manual_seed(0)
    x, lengths = torch.randn(3, 6, 4), torch.tensor([6, 2, 4])
    first = deeprnn.LSTM(4, 5, return_state=False)
    second = deeprnn.GRU(3, 5, return_state=False, return_sequences=False)
    model = nn.Sequential(deeprnn.Masking(0.0), first, nn.Dropout(0.2), nn.Linear(5, 3), second)
    x[torch.arange(6)[None] >= lengths[:, None]] = 0.0
    torch.manual_seed(2)
    flowing = model(x)
    torch.manual_seed(2)
    h = model[3](model[2](deeprnn.strip_mask(first(x, lengths=lengths))))
    torch.testing.assert_close(flowing, second(h, lengths=lengths), rtol=0, atol=0)


def test_a_masked_tensor_prints_and_computes_as_a_tensor():
    e = deeprnn.Embedding(10, 4)(IDS)
    assert isinstance(e, torch.Tensor) and repr(e).startswith("tensor(")
    assert type(e.sum()) is torch.Tensor and type(e[:, 1:]) is torch.Tensor
    e.sum().backward()  # the graph is the embedding's


def test_attention_picks_up_the_mask_of_its_keys():
    emb = deeprnn.Embedding(10, 4)
    keys = deeprnn.LSTM(4, 6, return_state=False)(emb(IDS))
    attn = deeprnn.LuongAttention(6, 6)
    query = torch.randn(4, 6)
    _, flowing = attn(query, keys)
    _, explicit = attn(query, keys, mask=IDS != 0)
    torch.testing.assert_close(flowing, explicit, rtol=0, atol=0)
    assert torch.all(flowing[IDS == 0] == 0)


def test_embedding_and_masking_round_trip_their_config():
    emb = deeprnn.Embedding(10, 4, padding_idx=0, mask_zero=False)
    assert deeprnn.get_mask(emb(IDS)) is None
    clone = deeprnn.Embedding.from_config(emb.get_config())
    assert clone.get_config() == emb.get_config() and clone.padding_idx == 0
    masking = deeprnn.Masking(-1.0)
    assert deeprnn.Masking.from_config(masking.get_config()).mask_value == -1.0


def test_embedding_from_pretrained_serves_torch_and_deeprnn(tmp_path):
    weights = torch.randn(10, 4)
    emb = deeprnn.Embedding.from_pretrained(weights)  # torch's: a (V, E) tensor, frozen
    assert torch.equal(emb.weight, weights) and not emb.weight.requires_grad
    assert torch.equal(deeprnn.get_mask(emb(IDS)), IDS != 0)
    emb.save_pretrained(tmp_path)
    again = deeprnn.Embedding.from_pretrained(tmp_path)  # deeprnn's: a folder
    assert torch.equal(again.weight, weights) and again.mask_zero


# -- 4. regularizers, constraints, initializers, learned initial state -----------------------------
def test_the_loss_changes_by_exactly_the_penalty():
    torch.manual_seed(2)
    layer = deeprnn.SimpleRNN(
        4, 8, kernel_regularizer=L2(0.1), recurrent_regularizer="l1", bias_regularizer="l1_l2"
    )
    cell = layer._cells()[0]
    want = (
        0.1 * cell.weight_ih.square().sum()
        + 0.01 * cell.weight_hh.abs().sum()
        + 0.01 * cell.bias.abs().sum()
        + 0.01 * cell.bias.square().sum()
    )
    torch.testing.assert_close(layer.regularization_loss(), want)
    head = nn.Linear(8, 1)
    model = nn.Sequential(nn.Identity(), layer, head)  # a non-deeprnn container around it
    torch.testing.assert_close(deeprnn.regularization_loss(model), want)
    penalty = deeprnn.regularization_loss(model)
    penalty.backward()
    torch.testing.assert_close(cell.weight_ih.grad, 0.2 * cell.weight_ih.detach())
    assert head.weight.grad is None


def test_regularization_loss_is_zero_without_regularizers():
    assert float(deeprnn.regularization_loss(deeprnn.GRU(3, 4, 2))) == 0.0
    assert float(deeprnn.regularization_loss(nn.Linear(2, 2))) == 0.0


def test_activity_regularizer_follows_keras_on_the_returned_output():
    torch.manual_seed(3)
    x = torch.randn(4, 5, 3)
    layer = deeprnn.GRU(3, 6, 2, activity_regularizer=L1(0.5), return_sequences=False)
    inner = deeprnn.GRU(3, 6, 2, return_state=False)
    inner.load_state_dict(layer.state_dict())
    out, _ = layer(x)
    first = inner.blocks[0](x)[0]  # layer 1's output sequence
    want = 0.5 * first.abs().sum() / 4 + 0.5 * out.abs().sum() / 4
    torch.testing.assert_close(layer.regularization_loss(), want)


def test_a_layer_with_recorded_activity_still_deep_copies():
    import copy

    layer = deeprnn.LSTM(3, 4, activity_regularizer="l2", return_state=False)
    layer(torch.randn(2, 5, 3, requires_grad=True))
    clone = copy.deepcopy(layer)
    assert (
        clone.regularization_loss().detach().item()
        == 0.0
        < layer.regularization_loss().detach().item()
    )


def test_weight_regularizers_cover_every_direction_and_layer():
    layer = deeprnn.LSTM(3, 4, 2, bidirectional=True, kernel_regularizer=L1L2(l1=0.3))
    want = sum(0.3 * c.weight_ih.abs().sum() for c in layer._cells())
    torch.testing.assert_close(deeprnn.regularization_loss(layer), want)


@pytest.mark.parametrize(
    ("constraint", "check"),
    [
        (MaxNorm(0.5), lambda w: bool((w.norm(dim=1) <= 0.5 + 1e-6).all())),
        ("unit_norm", lambda w: torch.allclose(w.norm(dim=1), torch.ones(w.shape[0]))),
        (NonNeg(), lambda w: bool((w >= 0).all())),
    ],
)
def test_constraints_project_after_a_step(constraint, check):
    layer = deeprnn.LSTM(3, 4, kernel_constraint=constraint, recurrent_constraint=constraint)
    opt = torch.optim.SGD(layer.parameters(), lr=1.0)
    layer(torch.randn(2, 5, 3))[0].square().sum().backward()
    opt.step()
    deeprnn.apply_constraints(nn.Sequential(layer))
    cell = layer._cells()[0]
    assert check(cell.weight_ih.detach()) and check(cell.weight_hh.detach())


def test_unit_norm_axis_one_normalises_columns():
    w = UnitNorm(axis=1)(torch.randn(8, 3))
    torch.testing.assert_close(w.norm(dim=0), torch.ones(3))


def test_initializers_by_keras_name():
    torch.manual_seed(4)
    layer = deeprnn.LSTM(
        64,
        32,
        kernel_initializer="he_normal",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
    )
    cell = layer._cells()[0]
    assert abs(cell.weight_ih.std().item() - (2 / 64) ** 0.5) < 0.02
    gram = cell.weight_hh.T @ cell.weight_hh  # (H, H): orthonormal columns
    torch.testing.assert_close(gram, torch.eye(32), atol=1e-5, rtol=0)
    forget = torch.zeros(4 * 32)
    forget[32:64] = 1.0  # Keras' unit_forget_bias
    torch.testing.assert_close(cell.bias.detach(), forget)
    ones = deeprnn.GRU(3, 4, kernel_initializer="ones", init="torch")._cells()[0]
    assert torch.equal(ones.weight_ih, torch.ones_like(ones.weight_ih))


def test_learned_initial_state_is_used_and_trained():
    torch.manual_seed(5)
    layer = deeprnn.LSTM(3, 4, 2, learn_initial_state=True)
    learned = {n: p for n, p in layer.named_parameters() if "initial_" in n}
    assert len(learned) == 4  # h and c for each of the two layers
    with torch.no_grad():
        for p in learned.values():
            p.normal_()
    x = torch.randn(2, 5, 3)
    out, _ = layer(x)
    init = layer.initial_state(2)
    torch.testing.assert_close(layer(x, initial_state=init)[0], out, rtol=0, atol=0)
    zeros = init.map(torch.zeros_like)
    assert not torch.allclose(layer(x, initial_state=zeros)[0], out)
    out.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in learned.values())


def test_learned_initial_state_on_the_reset_rows_of_a_stateful_layer():
    layer = deeprnn.GRU(3, 4, learn_initial_state=True, stateful=True)
    with torch.no_grad():
        layer.blocks[0].initial_h.fill_(0.5)
    layer(torch.randn(2, 3, 3))
    layer.reset_states(torch.tensor([True, False]))
    assert torch.equal(layer.states[0].h[0], torch.full((4,), 0.5))
    assert not torch.equal(layer.states[0].h[1], torch.full((4,), 0.5))


KERAS_KWARGS = dict(
    input_dropout=0.1,
    input_dropout_same_mask=False,
    output_dropout=0.2,
    kernel_regularizer=L1L2(0.1, 0.2),
    recurrent_regularizer="l2",
    bias_regularizer=L1(0.3),
    activity_regularizer="l1",
    kernel_constraint=MaxNorm(3.0),
    recurrent_constraint="unit_norm",
    bias_constraint=NonNeg(),
    kernel_initializer="glorot_normal",
    recurrent_initializer="orthogonal",
    bias_initializer="ones",
    learn_initial_state=True,
)


@pytest.mark.parametrize(
    "make",
    [
        lambda: deeprnn.LSTM(3, 4, 2, bidirectional=True, **KERAS_KWARGS),
        lambda: deeprnn.GRU(3, 4, **KERAS_KWARGS),
        lambda: deeprnn.DeepRNN(
            3, layers=[4, dict(hidden_size=5, input_dropout=0.3)], **KERAS_KWARGS
        ),
        lambda: Recurrent(SimpleRNNCell(3, 4), **KERAS_KWARGS),
        lambda: deeprnn.Bidirectional(Recurrent(SimpleRNNCell(3, 4), **KERAS_KWARGS)),
    ],
)
def test_keras_options_round_trip_config_and_safetensors(make, tmp_path):
    layer = make()
    cfg = layer.get_config()
    clone = type(layer).from_config(cfg)
    assert clone.get_config() == cfg
    layer.save_pretrained(tmp_path)
    loaded = deeprnn.load_pretrained(tmp_path)
    assert loaded.get_config() == cfg
    x = torch.randn(2, 4, 3)
    torch.testing.assert_close(loaded(x)[0], layer.eval()(x)[0])


def test_defaults_are_todays_behaviour():
    from deeprnn.layers.recurrent import KERAS_OPTIONS

    torch.manual_seed(6)
    a = deeprnn.LSTM(3, 4)
    torch.manual_seed(6)
    b = deeprnn.LSTM(3, 4, **KERAS_OPTIONS)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not [n for n, _ in a.named_parameters() if "initial_" in n]
    assert {k: a.get_config()[k] for k in KERAS_OPTIONS} == KERAS_OPTIONS


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(kernel_regularizer="l3"), r"kernel_regularizer must be one of .*'l3'"),
        (dict(bias_constraint=lambda w: w), r"bias_constraint must be None"),
        (dict(kernel_initializer="glorot"), r"kernel_initializer must be one of"),
        (
            dict(bias_initializer="orthogonal"),
            r"bias_initializer must be an initializer for a vector",
        ),
        (dict(input_dropout=1.0), r"input_dropout must be a float in \[0, 1\), got 1.0"),
        (dict(learn_initial_state=1), r"learn_initial_state must be a bool"),
    ],
)
def test_bad_keras_options_name_the_argument(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        deeprnn.LSTM(3, 4, **kwargs)


def test_to_torch_refuses_what_torch_cannot_do():
    with pytest.raises(ValueError, match="input_dropout"):
        deeprnn.LSTM(3, 4, input_dropout=0.2).to_torch()
    deeprnn.LSTM(3, 4, kernel_regularizer="l2").to_torch()  # a penalty is not a module change
