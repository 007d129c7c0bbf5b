"""The closed forms behind ``madsim.theory``, one module per THEORY.md
section (the public names are re-exported by ``madsim.theory``)."""
