"""``data.cache`` (a memory-mapped panel on disk) and the series sharded across DDP ranks
(issue 29): the cached panel equals the one read from the file, a changed file or data key
rebuilds it, and each series is on exactly one rank with the same step count on every rank."""

import json

import numpy as np
import pytest
import torch
from test_forecast_panel import _config, _panel

from deeprnn.tasks.forecast import cache, shards
from deeprnn.tasks.forecast.data import ForecastData


@pytest.fixture
def table(tmp_path):
    _panel(n_series=7).to_parquet(tmp_path / "panel.parquet")
    return tmp_path / "panel.parquet"


def _prepare(path, folder, **extra):
    return ForecastData(_config(path, cache=str(folder), **extra), batch_size=8).prepare()


def test_the_cached_panel_is_the_panel_read_from_the_file(table, tmp_path):
    plain = ForecastData(_config(table), batch_size=8).prepare()
    first = _prepare(table, tmp_path / "c")  # builds the cache
    again = _prepare(table, tmp_path / "c")  # reads it
    assert (tmp_path / "c" / cache.INDEX).is_file()
    for dm in (first, again):
        assert isinstance(dm.panel.values, np.memmap)  # not a copy in memory
        assert dm.artifacts == json.loads(json.dumps(plain.artifacts))
        assert dm.split_sources == plain.split_sources
        for split in ("train", "val", "test"):
            a, b = plain.splits[split], dm.splits[split]
            assert len(a) == len(b) and dm.window_starts[split] == plain.window_starts[split]
            for x, y in zip(a.batch(np.arange(len(a))), b.batch(np.arange(len(b)))):
                torch.testing.assert_close(x, y, rtol=0, atol=0)


def test_a_changed_file_or_data_key_rebuilds_the_cache(table, tmp_path):
    folder = tmp_path / "c"
    a = _prepare(table, folder)
    fp = cache.read_index(folder)["fingerprint"]
    b = _prepare(table, folder, stride=2)  # another data key: other windows
    assert cache.read_index(folder)["fingerprint"] != fp
    assert len(b.splits["train"]) < len(a.splits["train"])
    frame = _panel(n_series=7, seed=3)  # the same file name, other values
    frame.to_parquet(table)
    c = _prepare(table, folder)
    fresh = ForecastData(_config(table), batch_size=8).prepare()
    assert c.artifacts["scaler"] == fresh.artifacts["scaler"] != a.artifacts["scaler"]
    np.testing.assert_array_equal(c.panel.values, fresh.panel.values)
    # windows_per_epoch draws from the same windows: the cache is kept
    stamp = (folder / cache.INDEX).stat().st_mtime_ns
    _prepare(table, folder, windows_per_epoch=16)
    assert (folder / cache.INDEX).stat().st_mtime_ns == stamp


def test_artifacts_that_disagree_with_the_cache_read_the_file(table, tmp_path, caplog):
    folder = tmp_path / "c"
    built = _prepare(table, folder)
    art = dict(built.artifacts)
    art["scaler"] = dict(art["scaler"], shift=[1.0, 2.0], scale=[3.0, 4.0])
    cfg = _config(table, cache=str(folder))
    dm = ForecastData(cfg, batch_size=8, artifacts=art).prepare()
    assert not isinstance(dm.panel.values, np.memmap) and dm.artifacts["scaler"] == art["scaler"]
    assert "holds another 'scaler'" in caplog.text
    assert cache.read_index(folder)["artifacts"]["scaler"] == built.artifacts["scaler"]


def test_a_cache_needs_a_file_source(tmp_path):
    from deeprnn.tasks.forecast.data import ForecastDataConfig

    with pytest.raises(ValueError, match=r"data\.cache .* needs data\.source 'csv'"):
        ForecastDataConfig(source="sines", cache=str(tmp_path)).validate("data")


def test_other_ranks_wait_for_rank_zero(table, tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    cfg = _config(table, cache=str(tmp_path / "c"))
    with pytest.raises(TimeoutError, match="rank RANK=1 waited 0 s for rank 0"):
        cache.wait_for(tmp_path / "c", cache.fingerprint(cfg), "RANK=1", timeout=0)
    monkeypatch.delenv("RANK")
    _prepare(table, tmp_path / "c")
    index = cache.wait_for(tmp_path / "c", cache.fingerprint(cfg), "RANK=1", timeout=0)
    assert sorted(index["ids"]) == [f"s{i}" for i in range(7)]


@pytest.mark.parametrize("world", [2, 3])
def test_each_series_on_exactly_one_rank_with_equal_steps(table, tmp_path, world):
    dm = _prepare(table, tmp_path / "c")
    weights = sum(w.lengths_by_series() for w in dm.splits.values())
    owner = shards.assign(weights, world)
    assert sorted(set(owner.tolist())) == list(range(world))
    loads = [int(weights[owner == r].sum()) for r in range(world)]
    assert max(loads) - min(loads) <= weights.max()  # greedy balance
    for split, windows in dm.splits.items():
        mine = shards.shard_windows(windows.series, owner, world)
        assert mine is not None
        seen = np.concatenate(mine)
        assert sorted(seen.tolist()) == list(range(len(windows)))  # each window once
        for r, m in enumerate(mine):  # a rank's windows are its series' windows only
            assert set(owner[windows.series[m]].tolist()) == {r}
        train = split == "train"
        total = max(len(m) for m in mine)
        for num, shuffle in ((None, True), (None, False), (50, True)):
            orders = [
                list(
                    shards.ShardOrder(
                        m,
                        windows.series,
                        rank=r,
                        world=world,
                        seed=0,
                        train=train,
                        total=total,
                        num=num,
                        shuffle=shuffle,
                    )
                )
                for r, m in enumerate(mine)
            ]
            if train:  # every rank runs the same number of steps
                assert len({len(o) for o in orders}) == 1
                assert len(orders[0]) == (-(-50 // world) if num else total)
            else:  # evaluation: every window exactly once over the ranks
                assert sorted(np.concatenate(orders).tolist()) == list(range(len(windows)))
            for r, o in enumerate(orders):
                assert set(owner[windows.series[o]].tolist()) == {r}


def test_more_ranks_than_series_is_not_sharded():
    series = np.array([0, 0, 1, 1])
    assert shards.shard_windows(series, shards.assign(np.array([2, 2]), 3), 3) is None


def test_a_folder_that_is_not_a_cache_is_never_replaced(table, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("a user's file")
    with pytest.raises(ValueError, match=r"holds files but no index\.json"):
        _prepare(table, mine)
    assert (mine / "notes.txt").read_text() == "a user's file"
    with pytest.raises(ValueError, match="must name a folder"):
        _prepare(table, mine / "notes.txt")
    (tmp_path / "empty").mkdir()
    _prepare(table, tmp_path / "empty")  # an empty folder becomes the cache
    assert (tmp_path / "empty" / cache.INDEX).is_file()
