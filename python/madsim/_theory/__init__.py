"""The closed forms behind ``madsim.theory``, one module per topic (the
public names are re-exported by ``madsim.theory``); each is written out in
the theory pages of the documentation, docs/theory/."""
