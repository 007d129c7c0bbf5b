"""Writes docs/guide/toml-reference.md from madsim.toml_config.SCHEMA, the
tables the TOML loader checks run files against (one source of truth).

    python docs/gen_toml_reference.py           # rewrite the file
    python docs/gen_toml_reference.py --check   # exit 1 if it is out of date

tests/test_toml_config.py fails while the committed file differs from what
this writes: rerun it after changing a key, a default or a help text.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from madsim import toml_config

TARGET = Path(__file__).resolve().parent / "guide" / "toml-reference.md"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the file is up to date")
    args = parser.parse_args(argv)
    text = toml_config.reference_markdown()
    if args.check:
        current = TARGET.read_text() if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} is out of date: run python docs/gen_toml_reference.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    print(TARGET)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
