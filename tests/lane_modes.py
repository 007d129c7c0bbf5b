"""Runs a child script under every CPU lane mode (MADSIM_LANES unset, off,
baseline, avx2), each in a fresh process since the mode is read once at import:
the lane tests compare what each mode printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

MODES = ("off", "baseline", "avx2", "default")


def outputs_per_mode(child: str) -> dict[str, dict]:
    """{mode: the JSON the child printed}; "default" leaves MADSIM_LANES unset."""
    res = {}
    for mode in MODES:
        env = {k: v for k, v in os.environ.items() if k != "MADSIM_LANES"}
        if mode != "default":
            env["MADSIM_LANES"] = mode
        p = subprocess.run([sys.executable, "-c", child], env=env, capture_output=True, text=True, check=True)
        res[mode] = json.loads(p.stdout)
    return res
