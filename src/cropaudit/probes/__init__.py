"""Probes: how fragile each verdict is, and what a cropper responds to (docs/probes.md).

Composition probes (:mod:`.recompose`) re-show a seeded subsample of the audit's pair tuples
changed in one way at a time (padding offset, gap, order, layout, scaling, JPEG quality, 3×1
grid); counterfactual edits (:mod:`.edits`) change single images inside their face box.
:mod:`.runner` runs a cropper on them and records hard (argmax) and soft outcomes
(:mod:`.soft`); :mod:`cropaudit.stats.probes` measures them against the baseline.
"""
