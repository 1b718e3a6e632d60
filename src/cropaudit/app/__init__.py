"""The crop explorer: a local web app to see what a saliency model sees.

Upload images (or pick them from the dataset table) and see the saliency heat map, the salient
point, the top-k grid cells, every candidate crop, and, in pair mode, which member of a
composite wins and by how much. Modules: :mod:`params` (``app:`` section of params.yaml),
:mod:`images` (decoding uploads into a temp-dir store), :mod:`dataset` (the dataset table to pick
from), :mod:`analysis` (models, cache, heat
maps, pair outcomes), :mod:`composite` (pair geometry), :mod:`figures` and :mod:`export`
(what is drawn and downloaded), :mod:`layout`, :mod:`callbacks`, :mod:`server`.

Importing this package is cheap (no Dash, no TensorFlow) so ``config.py`` can compose
:class:`~cropaudit.app.params.AppParams` without pulling in the web stack.
"""
