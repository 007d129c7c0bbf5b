"""The ``madsim`` command line.

madsim demo                          a real run checked against theory
madsim init [run.toml]               write a commented run file to start from
madsim run RUN.toml -o result.nc     a run described by a TOML file (madsim.toml_config)
madsim sweep SWEEP.toml -o grid.nc   a parameter grid ([sweep] table), resumable
madsim plot result.nc -o fig.png     a figure of a saved result (tails, metric, survival)
madsim validate [--quick]            Monte Carlo against every closed form of madsim.theory
madsim repro --list | KEY | all      reproduce a paper of the literature (madsim.repro)
madsim bench                         a quick throughput check against numpy and Philox
madsim info                          version, RNG layout and build
madsim --version                     version and build (CUDA on/off, compiler, flags)

One module per subcommand (``madsim.cli.<command>``: its options and what it
runs); ``parser`` puts them together.
"""

from .parser import build_parser, main

__all__ = ["build_parser", "main"]
