"""``madsim info`` and ``madsim --version``: the version, the RNG layout
and how the compiled core was built.
"""

from __future__ import annotations

import json


def command(args) -> int:
    import madsim as ms

    print(
        json.dumps(
            {
                "madsim_version": ms.__version__,
                "rng_layout_version": ms.RNG_LAYOUT_VERSION,
                "build_info": ms.build_info(),
            },
            indent=2,
        )
    )
    return 0


def version_text() -> str:
    """`madsim --version`: the package version and how the compiled core was
    built (CUDA on or off, compiler, flags)."""
    import madsim as ms

    info = ms.build_info()
    if info.get("cuda"):
        cuda = (
            f"CUDA on (nvcc {info.get('cuda_version')}, architectures "
            f"{info.get('cuda_architectures')}, flags {info.get('cuda_flags')})"
        )
    else:
        cuda = "CUDA off (CPU only)"
    return "\n".join(
        [
            f"madsim {ms.__version__}",
            f"build: {cuda}",
            f"compiler: {info.get('compiler')}, flags {info.get('flags')}, CPU lanes {info.get('cpu_lanes')}",
            f"RNG: {info.get('rng')}, layout version {ms.RNG_LAYOUT_VERSION}",
        ]
    )


def add(sub) -> None:
    """Declares ``madsim info`` and its options on the subparsers ``sub``."""
    info = sub.add_parser("info", help="print version, RNG layout and build information")
    info.set_defaults(func=command)
