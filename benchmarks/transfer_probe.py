"""Does the pretrained language model's encoder hold sentiment? (issue 27)

A linear probe: logistic regression (its C by 5-fold CV) on the frozen, concat-pooled encoder
features of examples/imdb_ulmfit_kfold.yaml's fold 0 (1,800 training reviews), tested on the
2,000 test reviews; once with the encoder copied from the language model (``finetune.init_from``)
and once randomly initialised, both reading with the language model's vocabulary.

    python benchmarks/transfer_probe.py            # needs runs/imdb_lm (imdb_lm_pretrain.yaml)
    python benchmarks/transfer_probe.py --lm runs/imdb_lm --fold 0
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from deeprnn.training import run_config_from_dict  # noqa: E402
from deeprnn.training.runner.run import build_datamodule, build_model  # noqa: E402


def features(dm, model, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, F) concat-pooled encoder features of ``split`` and its (N,) labels."""
    xs, ys = [], []
    with torch.no_grad():
        for batch in dm._loader(split, False):
            x, lengths, y = batch[0], batch[1], batch[-1]
            out, states, mask = model.encoder(x, lengths)
            xs.append(model.pool(out, states, mask, lengths).numpy())
            ys.append(y.numpy())
    return np.concatenate(xs), np.concatenate(ys)


def probe(cfg: dict, lm: str | None) -> float:
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.preprocessing import StandardScaler

    c = copy.deepcopy(cfg)
    c["finetune"]["init_from"] = lm
    if lm is None:
        c["finetune"]["gradual_unfreeze"] = False
    torch.manual_seed(0)
    run = run_config_from_dict(c)
    dm = build_datamodule(run).prepare()
    model = build_model(run, dm.artifacts).eval()
    (xa, ya), (xt, yt) = features(dm, model, "train"), features(dm, model, "test")
    scale = StandardScaler().fit(xa)
    clf = LogisticRegressionCV(Cs=8, cv=5, max_iter=2000).fit(scale.transform(xa), ya)
    return float((clf.predict(scale.transform(xt)) == yt).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "examples" / "imdb_ulmfit_kfold.yaml"))
    ap.add_argument("--lm", default="runs/imdb_lm")
    ap.add_argument("--fold", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = yaml.safe_load(Path(args.config).read_text())
    cfg["data"]["fold"] = args.fold
    cfg["data"]["vocab_path"] = str(Path(args.lm) / "model" / "vocab.json")  # both: the LM's
    for name, lm in (("language model", args.lm), ("random", None)):
        print(f"{name}: test accuracy {probe(cfg, lm):.4f}", flush=True)


if __name__ == "__main__":
    main()
