"""Offline evaluation: the leave-one-out protocol with full ranking and history masking, the
runner that tunes on validation and scores on test, the suite behind ``shoprec evaluate``,
beyond-accuracy and click-prediction metrics, the speed benchmarks, and the report with its
plots beside published results.

Layer: above training, experiments and marketing; it may import every package except serving,
the CLI and settings_doc. The ranking metrics it reports live in
:mod:`shoprec.models.rank_metrics`, so that training can early-stop on the same figures.
"""
