"""``deeprnn plot``: the plots of a run folder (curves, architecture, confusion, attention,
gradient flow)."""

from __future__ import annotations

import sys
from pathlib import Path

from deeprnn.cli._common import CLIError, formatter

KINDS = ("curves", "architecture", "confusion", "attention", "gradient-flow", "all")

PLOT_EPILOG = """\
Writes into RUN_DIR (or --out-dir): curves.png from the CSV log; architecture.png from the
export folder RUN_DIR/model; confusion.png for classify / tag runs (the model on the test
split); attention_{i}.png for a seq2seq run and the sentences given with --text (chosen
examples, decoded greedily); gradient-flow.png with --gradient-flow (SimpleRNN vs LSTM: the
vanishing gradient).
The default --kind auto writes what applies to the run; a plot that was asked for by name and
cannot be made is an error.

examples:
  deeprnn plot runs/imdb                      # curves + architecture + confusion
  deeprnn plot runs/imdb --kind curves --metrics loss acc --out imdb.png
  deeprnn plot runs/imdb --gradient-flow      # also the gradient-norm-per-step picture
  deeprnn plot --kind gradient-flow --out-dir docs    # no run needed
  deeprnn plot runs/translate_multi30k --kind attention --text "A dog runs." "Two men talk."
"""


def _wanted(args) -> tuple[set[str], bool]:
    """The plot kinds to make, and whether each was asked for by name (errors then count)."""
    kind = args.kind
    if kind == "auto":
        kinds = {"curves", "architecture", "confusion"}
        explicit = False
    elif kind == "all":
        kinds, explicit = {"curves", "architecture", "confusion", "gradient-flow"}, False
    else:
        kinds, explicit = {kind}, True
    if args.gradient_flow:
        kinds.add("gradient-flow")
    if args.text and kind in ("auto", "all"):
        kinds.add("attention")
    return kinds, explicit


def cmd_plot(args, extra: list[str]) -> int:
    from deeprnn._validation import check_out_file, check_out_folder
    from deeprnn.report import load_run_data, load_run_model, predict_split
    from deeprnn.viz import plot_architecture, plot_confusion, plot_curves, plot_gradient_flow

    if extra:
        raise CLIError(f"unexpected arguments {extra}")
    kinds, explicit = _wanted(args)
    run = Path(args.run) if args.run else None
    if run is None:
        if "gradient-flow" not in kinds or (explicit and args.kind != "gradient-flow"):
            raise CLIError("give RUN_DIR (only --kind gradient-flow needs no run)")
        kinds = {"gradient-flow"}
    if args.out and len(kinds) != 1:
        raise CLIError("--out names one file: use it with a single --kind (or use --out-dir)")
    if args.out:
        check_out_file("--out", args.out)
    if args.out_dir:
        check_out_folder("--out-dir", args.out_dir)
    folder = Path(args.out_dir) if args.out_dir else run
    if folder is None:
        folder = Path(".")

    def target(name: str) -> Path:
        return Path(args.out) if args.out else folder / name

    def skip(kind: str, why: str) -> None:
        if explicit:
            raise CLIError(f"cannot plot {kind}: {why}")
        print(f"skipped {kind}: {why}", file=sys.stderr)

    wrote = 0
    if "curves" in kinds:
        try:
            print(f"wrote {plot_curves(run, target('curves.png'), args.metrics)}")
            wrote += 1
        except ValueError as e:
            skip("curves", str(e))
    model = None
    if kinds & {"architecture", "confusion", "attention"}:
        model = load_run_model(run)
        if model is None:
            for kind in sorted(kinds & {"architecture", "confusion", "attention"}):
                skip(kind, f"no export folder {run / 'model'}")
    if model is not None and "architecture" in kinds:
        print(f"wrote {plot_architecture(model, target('architecture.png'))}")
        wrote += 1
    if model is not None and "confusion" in kinds:
        labels = model.artifacts.get("labels")
        if not labels:
            skip("confusion", f"a {model.task_name} model has no classes")
        else:
            try:
                preds = predict_split(model, load_run_data(run, model), "test")
            except (ValueError, FileNotFoundError) as e:
                preds = None
                skip("confusion", f"the run's data could not be read ({e})")
            if preds is not None and preds.y_true:
                path = plot_confusion(
                    preds.y_true,
                    preds.y_pred,
                    preds.labels,
                    target("confusion.png"),
                    title=f"confusion on the {preds.split} split (row-normalised)",
                )
                print(f"wrote {path}")
                wrote += 1
            elif preds is not None:
                skip("confusion", "no predictions")
    if model is not None and "attention" in kinds:
        if not hasattr(model, "translate"):
            skip("attention", f"a {model.task_name} model has no attention to show")
        elif not args.text:
            skip("attention", "give the sentences to decode with --text")
        else:
            from deeprnn.viz import plot_attention

            rows = model.translate(args.text, beam_width=1, return_attention=True)
            if len(rows) > 1 and args.out:
                raise CLIError("--out names one file: give one --text sentence (or use --out-dir)")
            for i, r in enumerate(rows):
                if "attention" not in r:
                    skip("attention", "the model decodes without attention")
                    break
                title = f"{r['source'][:70]}\n-> {r['translation'][:70]}"
                path = target(f"attention_{i}.png")
                path = plot_attention(r["attention"], r["src_tokens"], r["tgt_tokens"], path, title)
                print(f"wrote {path}")
                wrote += 1
    if "gradient-flow" in kinds:
        path = plot_gradient_flow(target("gradient-flow.png"), steps=args.steps)
        print(f"wrote {path}")
        wrote += 1
    if not wrote:
        raise CLIError(f"nothing to plot in {run}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "plot",
        help="curves, architecture, confusion matrix and gradient flow of a run folder",
        epilog=PLOT_EPILOG,
        formatter_class=formatter,
    )
    p.add_argument(
        "run", nargs="?", metavar="RUN_DIR", help="a run folder (or its logs/csv/metrics.csv)"
    )
    p.add_argument(
        "--kind",
        choices=("auto", *KINDS),
        default="auto",
        help="which plot (default auto: whatever applies to the run)",
    )
    p.add_argument(
        "--gradient-flow",
        action="store_true",
        help="also the gradient norm per time step, SimpleRNN vs LSTM",
    )
    p.add_argument("--metrics", nargs="+", help="metric names (default: all validation metrics)")
    p.add_argument("--out", help="PNG path for a single --kind (default RUN_DIR/KIND.png)")
    p.add_argument("--out-dir", help="folder for the PNGs (default RUN_DIR)")
    p.add_argument("--steps", type=int, default=100, help="sequence length for --gradient-flow")
    p.add_argument("--text", nargs="+", help="seq2seq: source sentences for the attention plots")
    p.set_defaults(func=cmd_plot)
