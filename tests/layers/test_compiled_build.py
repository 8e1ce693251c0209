"""The compiled CPU kernels build wherever a C++ compiler is (issue 26 item 13).

``test_compiled_kernels.py`` skips its tests when the kernels are not built, so a C++ source
that stopped compiling turned ~250 tests into skips and left the suite green. This test fails
instead, with the build's error. It skips only where nothing can be built (no compiler) or the
kernels are turned off on purpose (``DEEPRNN_COMPILED=0``)."""

from __future__ import annotations

import os
import warnings

import pytest

from deeprnn.kernels import compiled


@pytest.mark.skipif(
    compiled.compiler() is None, reason="no C++ compiler (c++ / $CXX): nothing to build with"
)
def test_the_compiled_kernels_build_where_a_compiler_is():
    if os.environ.get("DEEPRNN_COMPILED") == "0":
        pytest.skip("DEEPRNN_COMPILED=0 turns the compiled kernels off")
    with warnings.catch_warnings():  # a failed build warns once; the error is shown below
        warnings.simplefilter("ignore", compiled.CompiledKernelWarning)
        built = compiled.available()
    assert built, (
        f"a C++ compiler is here ({compiled.compiler()}) but the compiled kernels did not "
        f"build, so test_compiled_kernels.py skipped its tests: {compiled._state['error']}"
    )


@pytest.mark.skipif(
    compiled.compiler() is None, reason="no C++ compiler (c++ / $CXX): nothing to build with"
)
def test_the_parallel_scan_kernels_build_where_a_compiler_is():
    """The MinGRU / MinLSTM / LRU scans are a second extension: a failed build there would
    turn their compiled-kernel tests into skips while the suite stays green."""
    from deeprnn.kernels import parallel

    if os.environ.get("DEEPRNN_COMPILED") == "0":
        pytest.skip("DEEPRNN_COMPILED=0 turns the compiled kernels off")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", compiled.CompiledKernelWarning)
        built = parallel.load() is not None
    assert built, f"the compiled parallel scans did not build: {parallel._state['error']}"
