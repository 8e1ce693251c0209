"""The bad-input catalogue, configs: YAML files and run-config dicts, each error naming the
file (and line) or the config key and the value. The shared runner is in ``_catalogue.py``."""

from __future__ import annotations

from _catalogue import _w, assert_clear_error, cases

from deeprnn.training import fit, load_yaml, run_config_from_dict

# (id, call(tmp), exception type, regex on the message)
CASES = [
    # -- configs -------------------------------------------------------------------------
    (
        "yaml truncated",
        lambda t: load_yaml(_w(t, "c.yaml", "trainer:\n  max_epochs: [3,\n")),
        ValueError,
        r"config file .*c\.yaml is not valid YAML: line 3, column 1: expected the node content, "
        r"but found '<stream end>'",
    ),
    (
        "yaml bad indentation",
        lambda t: load_yaml(_w(t, "c.yaml", "trainer:\n  max_epochs: 3\n   seed: 1\n")),
        ValueError,
        r"config file .*c\.yaml is not valid YAML: line 3, column 8: mapping values are not "
        r"allowed here",
    ),
    (
        "yaml non-utf8",
        lambda t: load_yaml(_w(t, "c.yaml", b"trainer:\n  max_epochs: 3\n  x: b\xffd\n")),
        ValueError,
        r"config file .*c\.yaml:3: not valid UTF-8 \(byte 0xff at offset 31\)",
    ),
    (
        "yaml not a mapping",
        lambda t: load_yaml(_w(t, "c.yaml", "- 1\n- 2\n")),
        ValueError,
        r"config file .*c\.yaml must hold a mapping at the top, got \[1, 2\]",
    ),
    (
        "yaml python tag",
        lambda t: load_yaml(_w(t, "c.yaml", 'x: !!python/object/apply:os.system ["echo hi"]\n')),
        ValueError,
        r"config file .*c\.yaml is not valid YAML: line 1, column 4: could not determine a "
        r"constructor for the tag 'tag:yaml\.org,2002:python/object/apply:os\.system'",
    ),
    (
        "config out_dir is a file",
        lambda t: fit(run_config_from_dict({"out_dir": str(_w(t, "f", "x"))})),
        ValueError,
        r"out_dir must name a folder, got '.*/f', which is a file",
    ),
    (
        "yaml missing",
        lambda t: load_yaml(t / "none.yaml"),
        ValueError,
        r"config file not found: .*none\.yaml",
    ),
    (
        "config unknown key",
        lambda t: run_config_from_dict({"trainer": {"max_epoch": 3}}),
        ValueError,
        r"config\.trainer has unknown key 'max_epoch' \(did you mean 'max_epochs'\?\)",
    ),
    (
        "config wrong type",
        lambda t: run_config_from_dict({"trainer": {"max_epochs": "3"}}),
        ValueError,
        r"config\.trainer\.max_epochs must be an int, got '3'",
    ),
    (
        "config nonfinite choice",
        lambda t: run_config_from_dict({"trainer": {"nonfinite": "ignore"}}),
        ValueError,
        r"config\.trainer\.nonfinite must be one of \['stop', 'skip'\], got 'ignore'",
    ),
    (
        "config NaN lr",
        lambda t: run_config_from_dict({"optim": {"lr": float("nan")}}),
        ValueError,
        r"config\.optim\.lr must be a finite number, got nan",
    ),
    (
        "config inf lr",
        lambda t: run_config_from_dict({"optim": {"lr": float("inf")}}),
        ValueError,
        r"config\.optim\.lr must be a finite number, got inf",
    ),
    (
        "config NaN beta",
        lambda t: run_config_from_dict({"optim": {"betas": [0.9, float("nan")]}}),
        ValueError,
        r"config\.optim\.betas must be two numbers in \[0, 1\), got \[0\.9, nan\]",
    ),
    (
        "config inf clip norm",
        lambda t: run_config_from_dict({"trainer": {"gradient_clip_norm": float("inf")}}),
        ValueError,
        r"config\.trainer\.gradient_clip_norm must be a finite number, got inf",
    ),
    (
        "config NaN clip value",
        lambda t: run_config_from_dict({"trainer": {"gradient_clip_value": float("nan")}}),
        ValueError,
        r"config\.trainer\.gradient_clip_value must be a finite number, got nan",
    ),
    (
        "config inf max_time",
        lambda t: run_config_from_dict({"trainer": {"max_time": float("inf")}}),
        ValueError,
        r"config\.trainer\.max_time must be a finite number, got inf",
    ),
    (
        "config section not a mapping",
        lambda t: run_config_from_dict({"trainer": 3}),
        ValueError,
        r"config\.trainer must be a mapping of keys to values, got 3",
    ),
    (
        "config model key",
        lambda t: run_config_from_dict({"model": {"rnn": {"hiden_size": 3}}}),
        ValueError,
        r"config\.model\.rnn has unknown key 'hiden_size' \(did you mean 'hidden_size'",
    ),
    (
        "config unknown task",
        lambda t: run_config_from_dict({"task": "clasify"}),
        ValueError,
        r"task must be one of \[.*'classify'.*\], got 'clasify' \(did you mean 'classify'\?\)",
    ),
    (
        "config negative penalty",
        lambda t: run_config_from_dict({"regularizers": {"input_l2": -1}}),
        ValueError,
        r"config\.regularizers\.input_l2 must be >= 0, got -1",
    ),
    (
        "config NaN penalty",
        lambda t: run_config_from_dict({"regularizers": {"recurrent_l2": float("nan")}}),
        ValueError,
        r"config\.regularizers\.recurrent_l2 must be a finite number, got nan",
    ),
    (
        "config inf penalty",
        lambda t: run_config_from_dict({"regularizers": {"bias_l1": float("inf")}}),
        ValueError,
        r"config\.regularizers\.bias_l1 must be a finite number, got inf",
    ),
]


@cases(CASES)
def test_bad_input_gives_a_clear_error(tmp_path, what, call, exc, match):
    assert_clear_error(tmp_path, call, exc, match)
