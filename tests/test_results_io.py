"""Results on disk: save/load round trips (values, dtypes, provenance attrs)
and summaries across replicas equal their numpy definitions."""

import json

import numpy as np
import pytest

import madsim as ms
from madsim import results


@pytest.fixture(scope="module")
def ds():
    cfg = ms.Config(
        family=ms.Gaussian(dim=2), loop=ms.Fresh(real=[3, 4, 5, 6], synthetic=5), filter=ms.Filter(0.2, 0.0)
    )
    return ms.simulate(
        cfg,
        replicas=50,
        generations=4,
        seed=3,
        record=ms.every(1),
        progress=False,
        detect=[ms.FirstPassage("trace", below=1.5)],
        metrics="all",
    )


def test_netcdf_round_trip(ds, tmp_path):
    path = results.save(ds, tmp_path / "run.nc")
    back = results.load(path)
    for name in ds.variables:
        np.testing.assert_array_equal(back[name].values, ds[name].values, err_msg=name)
        assert back[name].dtype == ds[name].dtype, name
    assert back.attrs["config"] == ds.attrs["config"]
    assert ms.Config.from_dict(json.loads(back.attrs["config"])).loop == ms.Fresh(
        real=[3, 4, 5, 6], synthetic=5
    )
    assert list(back.attrs["real_added"]) == [3.0, 4.0, 5.0, 6.0]
    assert back.attrs["seed"] == "3" and back.attrs["rng_layout_version"] == ms.RNG_LAYOUT_VERSION


def test_bad_paths(ds, tmp_path):
    with pytest.raises(ValueError, match=r"\.nc .*\.zarr.*run\.csv"):
        results.save(ds, tmp_path / "run.csv")
    with pytest.raises(FileNotFoundError, match="no madsim result"):
        results.load(tmp_path / "missing.nc")
    with pytest.raises(TypeError, match="xarray.Dataset"):
        results.save({"a": 1}, tmp_path / "x.nc")


def test_summary_matches_numpy(ds):
    s = results.summary(ds, quantiles=(0.1, 0.5))
    x = ds["trace"].values
    np.testing.assert_allclose(s["trace_mean"].values, x.mean(axis=0))
    np.testing.assert_allclose(s["trace_se"].values, x.std(axis=0, ddof=1) / np.sqrt(x.shape[0]))
    np.testing.assert_allclose(s["trace_q"].sel(quantile=0.5).values, np.median(x, axis=0))
    assert s["mean_mean"].dims == ("generation", "dim")
    first = ds["first_trace_below"].values
    assert float(s["first_trace_below_reached"]) == pytest.approx((first >= 0).mean())
    assert s.attrs["replicas"] == 50
    with pytest.raises(ValueError, match="quantiles"):
        results.summary(ds, quantiles=(1.5,))
