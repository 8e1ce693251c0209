"""torch.compile on the task models, and DDP (2 CPU processes, gloo) against one process."""

import json

import pytest
import torch
from _tiny import tiny_config, train_cli

from deeprnn.tasks import Classify, LanguageModel

VOCAB = ["[PAD]", "[UNK]", *"abcdef"]


@pytest.mark.parametrize("task", ["classify", "lm"])
def test_torch_compile_matches_eager_forward_and_backward(task):
    torch.manual_seed(0)
    if task == "classify":
        model = Classify(
            {"input": {"embedding_dim": 6}, "rnn": {"hidden_size": 5, "bidirectional": True}},
            {"vocab": VOCAB, "labels": ["a", "b"]},
        )
        args = (torch.randint(1, 8, (3, 7)), torch.tensor([7, 4, 1]))
    else:
        model = LanguageModel(
            {"input": {"embedding_dim": 6}, "rnn": {"hidden_size": 5}}, {"vocab": VOCAB}
        )
        args = (torch.randint(1, 8, (3, 7)),)
    model.train()
    compiled = torch.compile(model, backend="inductor")

    def run(m):
        out = m(*args)
        out = out[0] if isinstance(out, tuple) else out
        model.zero_grad()
        out.pow(2).mean().backward()
        grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
        return out.detach(), grads

    eager_out, eager_grads = run(model)
    out, grads = run(compiled)
    torch.testing.assert_close(out, eager_out, rtol=1e-4, atol=1e-5)
    assert grads.keys() == eager_grads.keys()
    for k in grads:
        torch.testing.assert_close(grads[k], eager_grads[k], rtol=1e-4, atol=1e-5, msg=k)


def test_ddp_two_cpu_processes_match_one_process_with_the_same_global_batch(tmp_path):
    cfg = tiny_config("classify_numeric", tmp_path / "data", tmp_path / "one", max_epochs=2)
    cfg["data"]["num_examples"] = 80
    cfg["trainer"].update(batch_size=16, accelerator="cpu")
    cfg["export"] = False
    one = dict(cfg, out_dir=str(tmp_path / "one"))
    two = dict(cfg, out_dir=str(tmp_path / "two"))
    two["trainer"] = dict(cfg["trainer"], batch_size=8)  # per process: 2 x 8 = 16
    # each rank takes every second example of the one global (shuffled) order
    a = train_cli(one, tmp_path, "one")
    b = train_cli(two, tmp_path, "two", "--trainer.devices", "2", "--trainer.strategy", "ddp")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=lambda m, k=k: f"{k}: {m}")
    assert json.loads((tmp_path / "one" / "metrics.json").read_text())["test_acc"] >= 0


@pytest.mark.parametrize("n", [7, 8, 17, 1])
def test_training_ranks_take_equal_shares_of_an_odd_split(n):
    """Every rank steps the same number of times (else DDP's all-reduce waits forever), every
    item is in some rank's share, and fewer than ``world`` items repeat (issue 26 item 11)."""
    from deeprnn.tasks._data import EpochShuffle

    world = 2
    shares = [list(EpochShuffle(n, seed=3, rank=r, world=world, pad=True)) for r in range(world)]
    assert len({len(s) for s in shares}) == 1
    assert [len(EpochShuffle(n, 3, rank=r, world=world, pad=True)) for r in range(world)] == [
        len(s) for s in shares
    ]
    flat = [i for s in shares for i in s]
    assert set(flat) == set(range(n)) and len(flat) - n < world
    evaluation = [list(EpochShuffle(n, 3, False, rank=r, world=world)) for r in range(world)]
    assert sorted(i for s in evaluation for i in s) == list(range(n))  # no example twice


def test_ddp_two_processes_train_on_a_split_that_does_not_divide(tmp_path):
    """A training split whose last global batch leaves one rank a batch short: 2 gloo processes
    must still finish (the unpadded sampler gave rank 0 one step more, and the run hung)."""
    from deeprnn.training import build_datamodule, run_config_from_dict

    cfg = tiny_config("classify_numeric", tmp_path / "data", tmp_path / "two", max_epochs=1)
    cfg["trainer"].update(batch_size=4, accelerator="cpu")
    cfg["export"] = False
    for n in range(20, 60):  # a training split of 8k + 1..4 rows: rank 0 has a batch more
        cfg["data"]["num_examples"] = n
        dm = build_datamodule(run_config_from_dict(cfg)).prepare()
        if 1 <= len(dm.splits["train"]) % 8 <= 4:
            break
    train_cli(cfg, tmp_path, "two", "--trainer.devices", "2", "--trainer.strategy", "ddp")


def test_ddp_entity_f1_is_scored_over_the_whole_split(tmp_path):
    """seqeval's F1 is not a mean over batches: under DDP every rank gathers all predictions,
    so 2 processes report the F1 of 1 process, not their own half's. (A per-token loss averaged
    per rank is not the global token mean, so the weights of the two runs differ by the update
    size; a vanishing learning rate keeps both at the same seeded initial weights.)"""
    cfg = tiny_config("tag", tmp_path / "data", tmp_path / "one", max_epochs=1)
    cfg["trainer"].update(batch_size=16, accelerator="cpu")
    cfg["optim"] = {"lr": 1e-12}
    cfg["export"] = False
    one = dict(cfg, out_dir=str(tmp_path / "one"))
    two = dict(cfg, out_dir=str(tmp_path / "two"))
    two["trainer"] = dict(cfg["trainer"], batch_size=8)
    a = train_cli(one, tmp_path, "one")
    b = train_cli(two, tmp_path, "two", "--trainer.devices", "2", "--trainer.strategy", "ddp")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-6, atol=1e-8)
    m1 = json.loads((tmp_path / "one" / "metrics.json").read_text())
    m2 = json.loads((tmp_path / "two" / "metrics.json").read_text())
    for key in ("test_f1", "test_precision", "test_recall"):
        assert m2[key] == pytest.approx(m1[key], abs=1e-6), key
