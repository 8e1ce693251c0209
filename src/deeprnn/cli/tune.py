"""``deeprnn tune``: a hyper-parameter search (Optuna) over the keys of a run config."""

from __future__ import annotations

from deeprnn.cli._common import formatter, parse_overrides

TUNE_EPILOG = """\
The space maps config keys (the dotted names of the --section.key overrides) to distributions:

  optim.lr: {log_uniform: [1.0e-4, 1.0e-2]}
  model.rnn.hidden_size: {choice: [64, 128, 256]}
  model.rnn.cell: {choice: [lstm, gru]}
  model.rnn.num_layers: {int: [1, 3]}              # {int: [lo, hi], step: s}
  model.rnn.dropout: {uniform: [0.0, 0.5]}         # {uniform: [lo, hi], step: s}

It comes from -s SPACE.yaml or from a search: block in the config. Every key and range is checked
against the config before any trial runs. Trials select on trainer.monitor (validation); only
the best trial is evaluated on test, once. Rerunning the same command resumes the search.

OUT (the config's out_dir) gets study.db, trials/trial_NNNN/ (run folders), best.yaml,
summary.md, optimization_history.png, intermediate_values.png, param_importances.png and
test_metrics.json.

examples:
  deeprnn tune -c base.yaml -s space.yaml --trials 50 --out_dir runs/search
  deeprnn tune -c base.yaml -s space.yaml --trials 50 --jobs 4          # 4 worker processes
  deeprnn tune -c base.yaml -s space.yaml --trials 200 \\
      --storage postgresql://user:pw@db/optuna --study-name imdb       # on every machine
  deeprnn train -c runs/search/best.yaml                                # retrain the best
"""


def cmd_tune(args, extra: list[str]) -> int:
    from deeprnn._validation import check_out_folder
    from deeprnn.training import apply_overrides, load_yaml
    from deeprnn.training.search import TuneConfig, tune

    base = load_yaml(args.config) if args.config else {}
    if args.task is not None:
        base["task"] = args.task
    base = apply_overrides(base, parse_overrides(extra))
    if base.get("out_dir") is not None:  # a file there fails before any trial
        check_out_folder("out_dir", base["out_dir"])
    space = load_yaml(args.space) if args.space else None
    options = TuneConfig(
        trials=args.trials,
        jobs=args.jobs,
        sampler=args.sampler,
        pruner=args.pruner,
        seed=args.sampler_seed,
        storage=args.storage,
        study_name=args.study_name,
        timeout=args.timeout,
        test=not args.no_test,
    )
    result = tune(
        base,
        space,
        options,
        where=str(args.config) if args.config else "config",
        space_where=f"search space {args.space}" if args.space else "search space",
    )
    best = result.best_trial
    print(result.summary.read_text(encoding="utf-8"), end="")
    print(f"best: trial {best.number}, {best.value:.6g}, {result.best_params}")
    for note in result.notes:
        print(f"note: {note}")
    if result.test_metrics is not None:
        shown = {k: round(v, 6) for k, v in result.test_metrics.items() if isinstance(v, float)}
        print(f"test (best trial only): {shown}")
    for path in (result.best_yaml, result.summary, *result.plots):
        print(f"wrote {path}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "tune",
        help="hyper-parameter search over config keys (Optuna; resumable, parallel)",
        description="Search a space of config values: every trial is a run folder, the study "
        "lives in SQLite (or --storage), best.yaml is the best trial's full config.",
        epilog=TUNE_EPILOG,
        formatter_class=formatter,
    )
    p.add_argument("-c", "--config", help="YAML base run config (may hold a search: block)")
    p.add_argument("-s", "--space", help="YAML search space (replaces the config's search:)")
    p.add_argument("--task", help="the task, when not in the config")
    p.add_argument(
        "--trials", type=int, default=20, metavar="N", help="finished trials to reach (20)"
    )
    p.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="worker processes on this machine (1)"
    )
    p.add_argument("--sampler", choices=("tpe", "random"), default="tpe")
    p.add_argument("--pruner", choices=("median", "hyperband", "none"), default="median")
    p.add_argument(
        "--sampler-seed", type=int, metavar="S", help="sampler seed (default: the config's seed)"
    )
    p.add_argument("--storage", metavar="URL", help="study database (default OUT/study.db)")
    p.add_argument(
        "--study-name", default="deeprnn", metavar="NAME", help="study in the storage (deeprnn)"
    )
    p.add_argument("--timeout", type=float, metavar="S", help="stop starting trials after S s")
    p.add_argument("--no-test", action="store_true", help="do not test the best trial")
    p.set_defaults(func=cmd_tune, accepts_overrides=True)
