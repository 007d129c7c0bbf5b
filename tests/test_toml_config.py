"""TOML run files map one-to-one onto the config objects; every mistake names
the TOML key (or the table) and what is allowed."""

import dataclasses
import inspect
from pathlib import Path

import pytest

import madsim as ms
from madsim import config as C
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
        loop=ms.Fresh(real=10, synthetic=[10, 20, 30]),
        estimator="unbiased",
        temperature=0.9,
        path="samples",
        weight=0.4,
        filter=ms.Filter(0.5, 0.1),
    )
    assert kw["replicas"] == 100 and kw["record"] == ms.every(1)
    assert kw["detect"] == [ms.FirstPassage("trace", below=0.5, name="small")]
    ds = ms.simulate(cfg, progress=False, **kw)
    assert ds.sizes["generation"] == 4 and "small" in ds


def test_defaults_are_the_python_defaults():
    cfg, kw = toml_config.loads("")
    assert cfg == ms.Config() and kw == {}


@pytest.mark.parametrize(
    "text,words",
    [
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
    ],
)
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


# ---------------------------------------------------------------- the schema: one source of truth

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "guide" / "toml-reference.md"


def _field_defaults(cls):
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def test_schema_has_every_field_of_the_api_in_order_with_its_default():
    S = toml_config.SCHEMA
    assert set(S["family"]) == {c.__name__ for c in C.FAMILIES}
    assert set(S["loop"]) == {c.__name__ for c in C.LOOPS}
    tables = [(S["family"][c.__name__], c) for c in C.FAMILIES]
    tables += [(S["loop"][c.__name__], c) for c in C.LOOPS]
    tables += [(S["filter"], C.Filter), (S["detect"], ms.FirstPassage)]
    for table, cls in tables:
        assert table.names == tuple(f.name for f in dataclasses.fields(cls)), cls
        defaults = _field_defaults(cls)
        for key in table.keys:
            assert key.default == defaults.get(key.name, toml_config.REQUIRED), (cls, key.name)
    config_fields = tuple(
        f.name for f in dataclasses.fields(C.Config) if f.name not in ("family", "loop", "filter")
    )
    assert S["top"].names == config_fields
    params = inspect.signature(ms.simulate).parameters
    assert S["run"].names == tuple(p for p in params if p not in ("cfg", "detect", "progress"))
    for key in S["run"].keys:
        assert key.default == params[key.name].default
    sweep_only = [
        p
        for p in inspect.signature(ms.sweep).parameters
        if p not in S["run"].names and p not in ("base", "detect", "store", "progress")
    ]
    assert set(S["sweep"].names) == set(sweep_only) | {"zip"}


def test_every_key_has_a_type_help_and_a_value_for_the_template():
    for table in _all_tables():
        for key in table.keys:
            assert key.types and set(key.types) <= set(toml_config.TOML_TYPES), key
            assert key.help.endswith(".") and len(key.help) > 15, key
            if key.default is None and table is not toml_config.SWEEP:
                assert key.example is not None, (table.where, key.name)


def _all_tables():
    S = toml_config.SCHEMA
    return [
        S["top"],
        *S["family"].values(),
        *S["loop"].values(),
        S["filter"],
        S["run"],
        S["detect"],
        S["sweep"],
    ]


@pytest.mark.parametrize(
    "text,words",
    [
        ("temperature = 'hot'", ["temperature must be a float", "'hot'"]),
        ("estimator = 1", ["estimator must be a string", "got 1"]),
        ("[family]\ndim = '2'", ["[family] (Gaussian)", "dim must be an integer", "'2'"]),
        ("[family]\ndim = true", ["dim must be an integer", "True"]),
        ("[family]\ntype = ['Gaussian']", ["[family] type must be one of", "['Gaussian']"]),
        (
            "[loop]\ntype = 'Fresh'\nreal = 2.5",
            ["[loop] (Fresh)", "real must be an integer or an array", "2.5"],
        ),
        ("[run]\nreplicas = '100'", ["[run]", "replicas must be an integer or an array", "'100'"]),
        ("[run]\nrecord = 5", ["[run]", "record must be a table or an array", "got 5"]),
        ("[[detect]]\nmetric = 'var'\nbelow = 'low'", ["[[detect]] #1", "below must be a float", "'low'"]),
        ("[filter]\ntpr = [0.5]", ["[filter]", "tpr must be a float"]),
    ],
)
def test_wrong_toml_types_name_the_key(text, words):
    with pytest.raises(toml_config.ConfigFileError) as info:
        toml_config.loads(text)
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_sweep_options_are_type_checked():
    with pytest.raises(toml_config.ConfigFileError, match=r"\[sweep\]: keep_state must be a boolean"):
        toml_config.loads_sweep("[sweep]\nkeep_state = 1\n[sweep.grid]\nweight = [0.5]\n")


@pytest.mark.parametrize(
    "text",
    [
        "x = " + "[" * 5000 + "]" * 5000,  # tomllib itself recurses
        "x = " + "{ a = " * 3000 + "1" + " }" * 3000,
        "[family]\nmean = " + "[" * 40 + "0.0" + "]" * 40,  # readable, but far deeper than any key
        "[sweep.grid" + ".a" * 3000 + "]\nb = [1]",  # headers nest without recursion in tomllib
    ],
)
def test_deep_nesting_is_a_clear_error_not_a_recursion_error(text):
    for load in (toml_config.loads, toml_config.loads_sweep):
        with pytest.raises(toml_config.ConfigFileError, match="nested more than 32 levels deep"):
            load(text)


def test_template_is_valid_and_lists_every_key_it_can():
    text = toml_config.template()
    cfg, kwargs = toml_config.loads(text)
    assert cfg == ms.Config(loop=ms.Replace(n=20))
    assert kwargs["record"] == ms.every(10) and kwargs["detect"][0].name == "collapse"
    lines = text.splitlines()
    S = toml_config.SCHEMA
    shown = (S["top"], S["family"]["Gaussian"], S["loop"]["Replace"], S["filter"], S["run"], S["detect"])
    for table in shown:
        for key in table.keys:
            assert any(ln.startswith((f"{key.name} = ", f"# {key.name} = ")) for ln in lines), key.name
            assert any(ln.startswith(f"# {key.name}: {key.help[:30]}") for ln in lines), key.name
    for kind in list(S["family"]) + list(S["loop"]):  # the other types are named, with their keys
        assert kind in text
    assert all(len(ln) <= 100 for ln in lines)


def test_commented_keys_load_when_uncommented():
    """Uncommenting a key of the template gives a file the loader accepts
    (path and truncation together, as truncation needs the samples path)."""
    text = toml_config.template()
    for key in ("estimator", "temperature", "path", "threads", "chunk", "backend"):
        edited = text.replace(f"# {key} = ", f"{key} = ", 1)
        toml_config.loads(edited)
    toml_config.loads(text.replace("# path = ", "path = ", 1).replace("# truncation = ", "truncation = ", 1))
    toml_config.loads(
        text.replace("# [filter]", "[filter]").replace("# tpr = ", "tpr = ").replace("# fpr = ", "fpr = ")
    )


def test_reference_documents_every_key_and_its_examples_load():
    ref = toml_config.reference_markdown()
    for table in _all_tables():
        for key in table.keys:
            assert f"| `{key.name}` |" in ref, key.name
    for code, _ in toml_config.RECORD_EXAMPLES:
        assert code in ref
        _, kwargs = toml_config.loads(f"[run]\n{code}\n")
        assert "record" in kwargs
    blocks = ref.split("```toml\n")[1:]
    run_file, sweep_file = (b.split("```")[0] for b in (blocks[0], blocks[-1]))
    assert toml_config.loads(run_file)[0] == toml_config.loads(toml_config.template())[0]
    _, _, options = toml_config.loads_sweep(run_file + "\n" + sweep_file)
    assert set(options["grid"]) == {"weight", "loop.synthetic", "loop", "ratio"}


def test_committed_reference_is_the_generated_one():
    assert REFERENCE.read_text() == toml_config.reference_markdown(), (
        "docs/guide/toml-reference.md is out of date: run python docs/gen_toml_reference.py"
    )


def test_run_aggregate_and_out_keys(tmp_path):
    """[run] aggregate (true or a table of madsim.Aggregate's fields) and out
    (a stream): checked, built, refused in a sweep file."""
    base = '[family]\ntype = "Gaussian"\n[loop]\ntype = "Replace"\nn = 10\n'
    _, kw = toml_config.loads(base + "[run]\naggregate = true\n")
    assert kw["aggregate"] is True
    _, kw = toml_config.loads(
        base + '[run]\nout = "x.zarr"\n[run.aggregate]\nquantiles = [0.5]\n'
        "replicas = [1, 2]\n[run.aggregate.histogram.var]\nlo = 0.0\nhi = 2.0\nnum = 4\n"
    )
    assert kw["aggregate"] == ms.Aggregate(
        quantiles=(0.5,), replicas=(1, 2), histogram={"var": ms.Bins(0.0, 2.0, 4)}
    )
    assert kw["out"] == "x.zarr"
    with pytest.raises(toml_config.ConfigFileError, match="unknown key 'bins'"):
        toml_config.loads(base + "[run.aggregate]\nbins = 3\n")
    with pytest.raises(toml_config.ConfigFileError, match="quantiles"):
        toml_config.loads(base + "[run.aggregate]\nquantiles = [2.0]\n")
    with pytest.raises(toml_config.ConfigFileError, match="out streams one run"):
        toml_config.loads_sweep(base + '[run]\nout = "x.zarr"\n[sweep.grid]\n"loop.n" = [5, 10]\n')
