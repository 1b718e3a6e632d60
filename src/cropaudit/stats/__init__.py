"""Bias statistics: pure functions from tidy tables to tidy tables (no file I/O here).

One module per concept: ``proportions`` (p, Δ, intervals, tests), ``counts`` (comparisons and
aggregates from counts), ``groups`` (labels, panels, pooling), ``bootstrap`` (cluster bootstrap
over source images), ``clustered`` (cluster-robust logit), ``position`` (left/right bias),
``equivalence`` (TOST), ``power``, ``distributions`` (saliency scores), ``multinomial`` (k-way
"together" tuples), ``outcomes`` (the saliency outcomes table as tuples) and ``audit`` (all of it
for one run, as tidy tables).
"""
