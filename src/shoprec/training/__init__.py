"""Training runs beyond a model's own ``fit``: the SASRec job (early-stopped fit, refit,
calibration of the post-hoc score terms on validation, checkpoints), differentially private
training (DP-SGD through Opacus, handed to the model), the export of a live shop's events
into training sequences, and the bundle job (``bundle_job``: every served model from the
store's log as one versioned bundle, gated on the newest slice of the log, ``heldout``).

Layer: above nlp, beside experiments and marketing; it may import nlp, ranking, online, models,
store, text, data, compute and settings, never evaluation, serving or the CLI (the evaluation
reuses training's checkpoints, not the other way round).
"""
