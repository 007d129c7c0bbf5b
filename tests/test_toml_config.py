"""TOML run files map one-to-one onto the config objects; every mistake names
the TOML key (or the table) and what is allowed."""

import pytest

import madsim as ms
from madsim import toml_config

FULL = """
estimator = "unbiased"
temperature = 0.9
path = "samples"
weight = 0.4

[family]
type = "Gaussian"
dim = 2
mean = [0.0, 1.0]
cov = [[2.0, 0.5], [0.5, 1.0]]

[loop]
type = "Fresh"
real = 10
synthetic = [10, 20, 30]

[filter]
tpr = 0.5
fpr = 0.1

[run]
replicas = 100
generations = 3
seed = 7
record = { every = 1 }

[[detect]]
metric = "trace"
below = 0.5
name = "small"
"""


def test_full_file_maps_onto_config_objects():
    cfg, kw = toml_config.loads(FULL)
    assert cfg == ms.Config(
        family=ms.Gaussian(dim=2, mean=[0.0, 1.0], cov=[[2.0, 0.5], [0.5, 1.0]]),
        loop=ms.Fresh(real=10, synthetic=[10, 20, 30]), estimator="unbiased", temperature=0.9,
        path="samples", weight=0.4, filter=ms.Filter(0.5, 0.1))
    assert kw["replicas"] == 100 and kw["record"] == ms.every(1)
    assert kw["detect"] == [ms.FirstPassage("trace", below=0.5, name="small")]
    ds = ms.simulate(cfg, progress=False, **kw)
    assert ds.sizes["generation"] == 4 and "small" in ds


def test_defaults_are_the_python_defaults():
    cfg, kw = toml_config.loads("")
    assert cfg == ms.Config() and kw == {}


@pytest.mark.parametrize("text,words", [
    ("estimater = 'mle'", ["unknown key 'estimater'", "estimator"]),
    ("[loop]\ntype = 'Fresh'\nrael = 3", ["[loop] (Fresh)", "'rael'", "real, synthetic"]),
    ("[loop]\nreal = 3", ["[loop] needs type"]),
    ("[loop]\ntype = 'Recycle'", ["[loop] type", "'Recycle'", "'Replace'"]),
    ("[loop]\ntype = 'Replace'\nn = 1", ["[loop]", "Replace.n", "got 1"]),
    ("[family]\ndim = 2\ncov = [[1.0, 2.0], [2.0, 1.0]]", ["[family]", "positive definite"]),
    ("[filter]\ntpr = 2.0", ["[filter]", "Filter.tpr", "2.0"]),
    ("temperature = -1.0", ["Config.temperature", "-1.0"]),
    ("[run]\nreplica = 5", ["[run]", "'replica'", "replicas"]),
    ("[run]\nrecord = { every = 0 }", ["[run] record", "every.k"]),
    ("[run]\nrecord = { sometimes = 3 }", ["[run] record", "'sometimes'"]),
    ("[[detect]]\nmetric = 'var'", ["[[detect]] #1", "below", "above"]),
    ("[[detect]]\nmetric = 'var'\nbelow = 1.0\nwhen = 3", ["[[detect]] #1", "'when'"]),
    ("loop = 3", ["[loop] must be a table"]),
    ("x = [", ["not valid TOML"]),
])
def test_errors_name_the_key(text, words):
    with pytest.raises(toml_config.ConfigFileError) as info:
        toml_config.loads(text)
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_load_reads_files_and_reports_missing_ones(tmp_path):
    p = tmp_path / "run.toml"
    p.write_text(FULL)
    assert toml_config.load(p)[0].loop == ms.Fresh(real=10, synthetic=[10, 20, 30])
    with pytest.raises(toml_config.ConfigFileError, match="cannot read run file"):
        toml_config.load(tmp_path / "missing.toml")
