"""Data pipeline shared by the recipes: list files (``manifest``), synthetic demo corpora in the
layouts of the public ones (``demo``) and the batch loader (``loader``)."""
