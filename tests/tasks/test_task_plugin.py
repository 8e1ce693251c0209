"""A task defined outside deeprnn.tasks trains, evaluates, exports and reloads through the same
framework (the way the seq2seq task plugs in): registering it is the only step."""

from dataclasses import dataclass

import torch
from _tiny import QUIET
from torch import nn

import deeprnn
from deeprnn.export import load_exported
from deeprnn.tasks import TaskModule, register_task
from deeprnn.tasks._data import TaskData, pad_floats
from deeprnn.training import fit, run_config_from_dict
from deeprnn.viz.curves import read_metrics


@dataclass
class SumConfig:
    hidden_size: int = 16


@dataclass
class SumDataConfig:
    num_examples: int = 96


class SumData(TaskData):
    def load(self):
        g = torch.Generator().manual_seed(self.seed)
        items = []
        for _ in range(self.config.num_examples):
            x = torch.randn(int(torch.randint(1, 6, (1,), generator=g)), 1, generator=g)
            items.append((x, x.sum()))
        self.artifacts.setdefault("input_size", 1)
        self.splits = {"train": items[:64], "val": items[64:80], "test": items[80:]}

    def collate(self, items):
        x, lengths = pad_floats([x for x, _ in items])
        return x, lengths, torch.stack([y for _, y in items])


class SumTask(TaskModule):
    """Regress the sum of a variable-length sequence."""

    config_class = SumConfig

    def __init__(self, config=None, artifacts=None, **kwargs):
        super().__init__(config, artifacts, **kwargs)
        h = self.config.hidden_size
        self.rnn = deeprnn.GRU(
            self.artifacts["input_size"], h, return_sequences=False, return_state=False
        )
        self.head = nn.Linear(h, 1)

    def forward(self, x, lengths):
        return self.head(self.rnn(x, lengths=lengths)).squeeze(-1)

    def step(self, batch, stage):
        x, lengths, y = batch
        return nn.functional.mse_loss(self(x, lengths), y), {}


def test_a_registered_task_trains_exports_and_reloads(tmp_path):
    register_task("sum_demo", SumTask, SumConfig, SumData, SumDataConfig)
    run = run_config_from_dict(
        {
            "task": "sum_demo",
            "out_dir": str(tmp_path / "run"),
            "optim": {"lr": 0.02},
            "trainer": {"max_epochs": 4, "batch_size": 16, **QUIET},
        }
    )
    result = fit(run)
    losses = [v for _, v in read_metrics(result.run_dir)["train_loss"]]
    assert losses[-1] < losses[0]
    assert "test_loss" in result.metrics
    loaded = load_exported(result.export_dir)
    assert type(loaded) is SumTask
    x, lengths, _ = result.datamodule.collate(result.datamodule.splits["test"])
    torch.testing.assert_close(loaded(x, lengths), result.model.eval()(x, lengths))
