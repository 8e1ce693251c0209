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


def test_a_dead_builds_lock_is_removed_a_live_ones_kept(tmp_path):
    """A build killed part-way leaves cpp_extension's lock, on which every later process waited
    for ever (found when a timed-out test run left one): a lock whose folder has not changed for
    ``stale`` seconds goes, with a warning naming it; a fresh one stays."""
    folder = tmp_path / "deeprnn_scan_x"
    folder.mkdir()
    (folder / "lock").touch()
    (folder / "scan_forward.o").write_bytes(b"\0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not compiled.clear_stale_lock(folder, stale=600)  # a build writing now
    assert (folder / "lock").exists()
    old = os.path.getmtime(folder / "lock") - 3600
    for f in folder.iterdir():
        os.utime(f, (old, old))
    with pytest.warns(compiled.CompiledKernelWarning, match="stale build lock .*lock"):
        assert compiled.clear_stale_lock(folder, stale=600)
    assert not (folder / "lock").exists()
    assert not compiled.clear_stale_lock(tmp_path / "never_built")  # no folder yet
