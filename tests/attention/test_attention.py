"""Attention modules: masking (exact zeros, all-masked rows), the equations, gradcheck, configs."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import deeprnn
from deeprnn.attention import (
    AdditiveAttention,
    Attention,
    BahdanauAttention,
    LuongAttention,
    make_attention,
    masked_softmax,
)

D = 5  # feature size for the modules that need query size == key size

# name -> (factory, query size, key size)
MODULES = {
    "bahdanau": (lambda: BahdanauAttention(3, 4, attention_size=6), 3, 4),
    "luong_dot": (lambda: LuongAttention(D, D, score="dot"), D, D),
    "luong_dot_scaled": (lambda: LuongAttention(D, D, score="dot", scale=True), D, D),
    "luong_general": (lambda: LuongAttention(3, 4, score="general"), 3, 4),
    "luong_concat": (lambda: LuongAttention(3, 4, score="concat", attention_size=6), 3, 4),
    "keras_dot": (lambda: Attention(), D, D),
    "keras_dot_scale": (lambda: Attention(use_scale=True), D, D),
    "keras_concat": (lambda: Attention(score_mode="concat"), D, D),
    "keras_concat_scale": (lambda: Attention(use_scale=True, score_mode="concat"), D, D),
    "keras_additive": (lambda: AdditiveAttention(D), D, D),
    "keras_additive_noscale": (lambda: AdditiveAttention(use_scale=False), D, D),
}
NAMES = sorted(MODULES)


def _build(name, dtype=torch.float32):
    factory, q, k = MODULES[name]
    module = factory().to(dtype)
    with torch.no_grad():  # non-trivial learned scalars
        for p in module.parameters():
            if p.dim() == 0:
                p.fill_(0.7)
    return module, q, k


def _inputs(q, k, batch=3, steps=2, source=6, values=7, dtype=torch.float32):
    query = (
        torch.randn(batch, steps, q, dtype=dtype) if steps else torch.randn(batch, q, dtype=dtype)
    )
    return (
        query,
        torch.randn(batch, source, k, dtype=dtype),
        torch.randn(batch, source, values, dtype=dtype),
    )


@st.composite
def problems(draw):
    batch = draw(st.integers(1, 4))
    source = draw(st.integers(1, 6))
    mask = [[draw(st.booleans()) for _ in range(source)] for _ in range(batch)]
    return dict(
        name=draw(st.sampled_from(NAMES)),
        batch=batch,
        steps=draw(st.sampled_from([None, 1, 3])),
        source=source,
        values=draw(st.integers(1, 4)),
        mask=torch.tensor(mask),
        seed=draw(st.integers(0, 2**16)),
    )


@given(problems())
def test_weights_sum_to_one_and_are_exactly_zero_where_masked(p):
    torch.manual_seed(p["seed"])
    module, q, k = _build(p["name"])
    query, keys, values = _inputs(q, k, p["batch"], p["steps"], p["source"], p["values"])
    query.requires_grad_(True)
    keys.requires_grad_(True)
    context, weights = module(query, keys, values, mask=p["mask"])
    squeeze = p["steps"] is None
    assert (
        weights.shape == (p["batch"], p["source"])
        if squeeze
        else (p["batch"], p["steps"], p["source"])
    )
    assert context.shape == (*weights.shape[:-1], p["values"])
    w = weights[:, None] if squeeze else weights  # (N, T, S)
    c = context[:, None] if squeeze else context
    mask = p["mask"][:, None, :].expand_as(w)
    assert torch.all(w[~mask] == 0)  # exactly zero, not 1e-9
    real = p["mask"].any(dim=1)
    torch.testing.assert_close(w[real].sum(-1), torch.ones_like(w[real].sum(-1)))
    assert torch.all(w[~real] == 0) and torch.all(c[~real] == 0)  # all-masked rows: zeros
    (context.sum() + weights.sum()).backward()
    assert torch.isfinite(query.grad).all() and torch.isfinite(keys.grad).all()


@pytest.mark.parametrize("name", NAMES)
def test_masked_keys_and_values_do_not_matter(name):
    module, q, k = _build(name)
    query, keys, values = _inputs(q, k)
    mask = torch.tensor([[1, 1, 1, 0, 0, 0], [0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]]).bool()
    keys2, values2 = keys.clone(), values.clone()
    keys2[~mask] = 1e3 * torch.randn_like(keys2[~mask])
    values2[~mask] = float("nan")  # even NaN at masked positions is ignored
    c1, w1 = module(query, keys, values, mask=mask)
    c2, w2 = module(query, keys2, values2.nan_to_num(1e6), mask=mask)
    torch.testing.assert_close(c1, c2)
    torch.testing.assert_close(w1, w2)
    # the masked result equals attention over the real positions alone
    c_alone, w_alone = module(query[1:2], keys[1:2, 1:], values[1:2, 1:])
    torch.testing.assert_close(c1[1:2], c_alone)
    torch.testing.assert_close(w1[1:2, :, 1:], w_alone)


@pytest.mark.parametrize("name", NAMES)
def test_single_step_query_and_cached_keys_match(name):
    module, q, k = _build(name)
    query, keys, values = _inputs(q, k, steps=3)
    mask = torch.rand(3, 6) > 0.3
    context, weights = module(query, keys, values, mask=mask)
    projected = module.project_keys(keys)
    for t in range(3):
        c, w = module(query[:, t], keys, values, mask=mask, projected_keys=projected)
        torch.testing.assert_close(c, context[:, t])
        torch.testing.assert_close(w, weights[:, t])
    c_none, _ = module(query, keys, values)  # no mask == all-true mask
    c_ones, _ = module(query, keys, values, mask=torch.ones(3, 6))
    torch.testing.assert_close(c_none, c_ones)
    c_keys, _ = module(query, keys)  # values default to keys
    torch.testing.assert_close(c_keys, module(query, keys, keys)[0])


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_float64(name):
    module, q, k = _build(name, torch.float64)
    query, keys, values = _inputs(q, k, batch=3, steps=2, source=4, values=3, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0], [1, 0, 1, 1]]).bool()  # an all-masked row

    def fn(query, keys, values, *params):
        return module(query, keys, values, mask=mask)

    inputs = [t.requires_grad_(True) for t in (query, keys, values)]
    params = list(module.parameters())
    assert torch.autograd.gradcheck(fn, (*inputs, *params), fast_mode=True)
    assert torch.autograd.gradcheck(fn, tuple(inputs))
    assert torch.autograd.gradcheck(lambda q_, k_, v_: module(q_[:, 0], k_, v_, mask=mask), inputs)


def _manual_scores(name, module, q, k):
    """Reference scores (N, T, S) written out with loops over s from the papers' formulas."""
    cols = []
    for s in range(k.shape[1]):
        ks = k[:, s][:, None, :]  # (N, 1, K)
        if name == "bahdanau":
            e = module.v(torch.tanh(module.key_proj(ks) + module.query_proj(q))).squeeze(-1)
        elif name.startswith("luong_dot"):
            e = (q * ks).sum(-1) / (math.sqrt(q.shape[-1]) if module.scale else 1.0)
        elif name == "luong_general":
            e = (q * (ks @ module.weight.T)).sum(-1)
        elif name == "luong_concat":
            cat = torch.cat([q, ks.expand(-1, q.shape[1], -1)], dim=-1)
            e = module.v(torch.tanh(cat @ module.weight.T)).squeeze(-1)
        elif name.startswith("keras_dot"):
            e = (q * ks).sum(-1) * (module.scale if module.scale is not None else 1.0)
        elif name.startswith("keras_concat"):
            scale = module.scale if module.scale is not None else 1.0
            e = module.concat_score_weight * torch.tanh(scale * (q + ks)).sum(-1)
        else:
            scale = module.scale if module.scale is not None else torch.ones(q.shape[-1])
            e = (scale * torch.tanh(q + ks)).sum(-1)
        cols.append(e)
    return torch.stack(cols, dim=-1)


@pytest.mark.parametrize("name", NAMES)
def test_scores_match_the_equations(name):
    module, q, k = _build(name, torch.float64)
    query, keys, values = _inputs(q, k, dtype=torch.float64)
    mask = torch.rand(3, 6) > 0.3
    mask[:, 0] = True
    context, weights = module(query, keys, values, mask=mask)
    scores = _manual_scores(name, module, query, keys).masked_fill(~mask[:, None], -math.inf)
    expected = torch.softmax(scores, dim=-1)
    torch.testing.assert_close(weights, expected)
    torch.testing.assert_close(context, expected @ values)


def test_keras_initialisation():
    assert Attention(use_scale=True).scale.item() == 1.0
    assert Attention(score_mode="concat").concat_score_weight.item() == 1.0
    assert Attention().scale is None and not list(Attention().parameters())
    scale = AdditiveAttention(300).scale
    assert scale.shape == (300,) and scale.abs().max() <= math.sqrt(3 / 300)
    assert AdditiveAttention(use_scale=False).scale is None


@pytest.mark.parametrize("name", NAMES)
def test_config_and_safetensors_round_trip(name, tmp_path):
    module, q, k = _build(name)
    query, keys, values = _inputs(q, k)
    mask = torch.rand(3, 6) > 0.3
    clone = type(module).from_config(module.get_config())
    assert clone.get_config() == module.get_config()
    module.save_pretrained(tmp_path)
    loaded = deeprnn.load_pretrained(tmp_path)
    assert type(loaded) is type(module)
    for a, b in zip(module(query, keys, values, mask=mask), loaded(query, keys, values, mask=mask)):
        torch.testing.assert_close(a, b)


def test_dropout_applies_to_the_context_only_in_training():
    module = BahdanauAttention(3, 4, dropout=0.5)
    query, keys, values = _inputs(3, 4)
    module.train()
    c_train, w_train = module(query, keys, values)
    torch.testing.assert_close(w_train.sum(-1), torch.ones(3, 2))  # returned weights undropped
    module.eval()
    c_eval, w_eval = module(query, keys, values)
    torch.testing.assert_close(w_train, w_eval)
    assert not torch.allclose(c_train, c_eval)


def test_masked_softmax_all_masked_rows_have_finite_gradients():
    scores = torch.randn(2, 3, requires_grad=True)
    mask = torch.tensor([[False, False, False], [True, False, True]])
    w = masked_softmax(scores, mask)
    assert torch.all(w[0] == 0) and w[1, 1] == 0
    w.sum().backward()
    assert torch.isfinite(scores.grad).all() and torch.all(scores.grad[0] == 0)


def test_make_attention():
    assert isinstance(make_attention("bahdanau", 3, 4), BahdanauAttention)
    assert make_attention("luong_general", 3, 4).score_name == "general"
    with pytest.raises(
        ValueError, match=r"attention must be one of .* got 'bahdanu' \(did you mean 'bahdanau'\?\)"
    ):
        make_attention("bahdanu", 3, 4)


BAD = [
    (
        "query rank",
        lambda: BahdanauAttention(3, 4)(torch.randn(2, 1, 1, 3), torch.randn(2, 5, 4)),
        ValueError,
        r"query must have 2 or 3 dimensions, got shape \(2, 1, 1, 3\)",
    ),
    (
        "keys rank",
        lambda: BahdanauAttention(3, 4)(torch.randn(2, 3), torch.randn(2, 4)),
        ValueError,
        r"keys must have 3 dimensions, got shape \(2, 4\)",
    ),
    (
        "integer query",
        lambda: Attention()(torch.ones(2, 3, dtype=torch.long), torch.randn(2, 5, 3)),
        TypeError,
        "query must be a floating-point tensor, got dtype torch.int64",
    ),
    (
        "batch mismatch",
        lambda: BahdanauAttention(3, 4)(torch.randn(3, 3), torch.randn(2, 5, 4)),
        ValueError,
        r"query and keys must have the same batch size, got query \(3, 3\) and keys \(2, 5, 4\)",
    ),
    (
        "values shape",
        lambda: Attention()(torch.randn(2, 3), torch.randn(2, 5, 3), torch.randn(2, 4, 3)),
        ValueError,
        r"values must have shape \(2, 5, V\) like keys \(N, S, K\), got \(2, 4, 3\)",
    ),
    (
        "query size",
        lambda: BahdanauAttention(3, 4)(torch.randn(2, 7), torch.randn(2, 5, 4)),
        ValueError,
        r"query must have 3 features \(query_size\), got shape \(2, 7\)",
    ),
    (
        "key size",
        lambda: LuongAttention(3, 4)(torch.randn(2, 3), torch.randn(2, 5, 6)),
        ValueError,
        r"keys must have 4 features \(key_size\), got shape \(2, 5, 6\)",
    ),
    (
        "keras sizes",
        lambda: Attention()(torch.randn(2, 3), torch.randn(2, 5, 4)),
        ValueError,
        "query and keys must have the same feature size, got query 3 and keys 4",
    ),
    (
        "mask shape",
        lambda: Attention()(torch.randn(2, 3), torch.randn(2, 5, 3), mask=torch.ones(2, 4)),
        ValueError,
        r"mask must have shape \(2, 5\) \(N, T\), got \(2, 4\)",
    ),
    (
        "mask values",
        lambda: Attention()(torch.randn(2, 3), torch.randn(2, 5, 3), mask=torch.full((2, 5), 2)),
        ValueError,
        "mask must be boolean",
    ),
    (
        "dot sizes",
        lambda: LuongAttention(3, 4, score="dot"),
        ValueError,
        "score='dot' needs query_size == key_size, got 3 and 4",
    ),
    (
        "luong score",
        lambda: LuongAttention(3, 4, score="generl"),
        ValueError,
        r"score must be one of .* got 'generl' \(did you mean 'general'\?\)",
    ),
    (
        "attention_size on dot",
        lambda: LuongAttention(3, 3, score="dot", attention_size=4),
        ValueError,
        "attention_size applies to score='concat' only",
    ),
    (
        "score mode",
        lambda: Attention(score_mode="add"),
        ValueError,
        r"score_mode must be one of \['dot', 'concat'\], got 'add'",
    ),
    (
        "use_scale type",
        lambda: Attention(use_scale=1),
        TypeError,
        "use_scale must be a bool, got int 1",
    ),
    (
        "additive size",
        lambda: AdditiveAttention(),
        ValueError,
        r"size \(the query/key feature size\) is required with use_scale=True",
    ),
    (
        "query_size",
        lambda: BahdanauAttention(0, 4),
        ValueError,
        "query_size must be a positive int, got 0",
    ),
    (
        "dropout",
        lambda: BahdanauAttention(3, 4, dropout=1.0),
        ValueError,
        r"dropout must be a float in \[0, 1\), got 1.0",
    ),
]


@pytest.mark.parametrize(("case", "fn", "exc", "message"), BAD, ids=[c[0] for c in BAD])
def test_bad_input(case, fn, exc, message):
    with pytest.raises(exc, match=message):
        fn()
