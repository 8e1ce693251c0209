"""The ``deeprnn`` command line."""


def main(argv=None) -> int:  # replaced below once the CLI lands
    raise SystemExit("deeprnn CLI: not built yet")
