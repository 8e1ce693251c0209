"""A plain-PyTorch word LM beside ``deeprnn train``: the first 250 steps of Zaremba's "small"
recipe on PTB (2 x 200 LSTM, tied weights, SGD lr 20 / clip 0.25 on the mean loss, batch 20,
BPTT 35, states carried), so the library's training curve can be checked against a loop with
nothing of ours in it.

    python benchmarks/ptb_plain_torch.py ../shared/data/ptb/ptb.train.txt
    deeprnn train -c examples/ptb_small.yaml --optim.name sgd --optim.lr 20 \\
        --optim.scheduler.name none --trainer.gradient_clip_norm 0.25 \\
        --model.input.embedding_dropout 0 --model.rnn.dropout 0 --model.output_dropout 0 \\
        --trainer.max_steps 250 --trainer.log_every_n_steps 50 --out_dir /tmp/ptb250

Measured (1 thread each, side by side): train loss at steps 50/100/150/200/250 was 6.90 /
6.23 / 6.30 / 6.11 / 5.97 here and 7.22 / 6.25 / 6.36 / 6.13 / 5.99 with deeprnn (different
random initialisations; from step 100 on within 0.06 nats).
"""

import sys

import torch
from torch import nn


class LM(nn.Module):
    def __init__(self, vocab: int, size: int = 200):
        super().__init__()
        self.emb = nn.Embedding(vocab, size)
        self.rnn = nn.LSTM(size, size, 2, batch_first=True)
        self.out = nn.Linear(size, vocab)
        self.out.weight = self.emb.weight

    def forward(self, x, state=None):
        y, state = self.rnn(self.emb(x), state)
        return self.out(y), state


def main(path: str, steps: int = 250, batch: int = 20, bptt: int = 35) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    with open(path, encoding="utf-8") as f:
        words = f.read().replace("\n", " <eos> ").split()
    stoi = {w: i for i, w in enumerate(sorted(set(words)))}
    ids = torch.tensor([stoi[w] for w in words])
    per = len(ids) // batch
    data = ids[: batch * per].view(batch, per)
    model = LM(len(stoi))
    opt = torch.optim.SGD(model.parameters(), lr=20.0)
    state = None
    for step in range(steps):
        i = step * bptt
        x, y = data[:, i : i + bptt], data[:, i + 1 : i + 1 + bptt]
        logits, state = model(x, state)
        state = tuple(t.detach() for t in state)
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        opt.step()
        if (step + 1) % 50 == 0:
            print(f"step {step + 1}: train loss {loss.item():.3f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/ptb/ptb.train.txt")
