"""Helpers shared by the subcommands: ``--key value`` overrides and configs (a trained run is
opened by :func:`deeprnn.training.open_run`)."""

from __future__ import annotations

import argparse
import os


class CLIError(ValueError):
    """A user error the CLI reports in one line (exit status 2)."""


TASK_HELP = "the task (classify, tag, forecast, lm, or any registered), when not in the config"


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as written, except that a paragraph of unindented prose longer
    than the terminal is wrapped to it (examples, indented, are kept as they are)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        import textwrap

        out = []
        for para in text.split("\n\n"):
            lines = para.splitlines()
            prose = lines and not any(line.startswith(" ") for line in lines)
            if prose and any(len(indent + line) > width for line in lines):
                joined = " ".join(line.strip() for line in lines)
                out.append(textwrap.fill(joined, width, initial_indent=indent,
                                         subsequent_indent=indent))  # fmt: skip
            else:
                out.append("\n".join(indent + line for line in lines))
        return "\n\n".join(out)


def formatter(prog):
    return _Formatter(prog, max_help_position=32)


def quiet() -> None:
    """Silence library chatter that is not about the user's run."""
    from deeprnn._warnings import ignore_chatter

    os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")
    ignore_chatter()


def parse_overrides(tokens: list[str]) -> list[tuple[str, object]]:
    """``["--trainer.max_epochs", "3", "--seed=1"]`` -> ``[("trainer.max_epochs", 3), ...]``."""
    from deeprnn.training import parse_value

    out = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if not tok.startswith("--") or tok == "--":
            raise CLIError(f"unexpected argument {tok!r}; overrides look like --section.key VALUE")
        key = tok[2:]
        if "=" in key:
            key, _, text = key.partition("=")
            i += 1
        else:
            if i + 1 >= len(tokens) or tokens[i + 1].startswith("--"):
                raise CLIError(f"--{key} needs a value")
            text = tokens[i + 1]
            i += 2
        out.append((key.replace("-", "_") if "." not in key else key, parse_value(text)))
    return out


def load_run(config: str | None, overrides: list[tuple[str, object]], task: str | None = None):
    """The RunConfig from a YAML file (optional) plus overrides; errors name the file/key."""
    from deeprnn.training import apply_overrides, load_yaml, run_config_from_dict

    data = load_yaml(config) if config else {}
    if task is not None:
        data["task"] = task
    data = apply_overrides(data, overrides)
    return run_config_from_dict(data, where=str(config) if config else "config")


def say_headline(metrics: dict, stream=None) -> None:
    """Print the model's headline metric against its baselines on the test split
    (:func:`deeprnn._headline.headline`), naming the split it was computed on."""
    import sys

    from deeprnn._headline import headline

    line = headline(metrics)
    if line is None:
        return
    data = metrics.get("data") if isinstance(metrics.get("data"), dict) else {}
    test = data.get("test") or {}
    where = ""
    if test.get("examples") is not None:
        of = " (the validation split)" if test.get("fallback") == "val" else ""
        where = f" [on the test split{of}: {test['examples']} {test.get('unit', 'examples')}]"
    print(f"{line}{where}", file=stream or sys.stdout)
