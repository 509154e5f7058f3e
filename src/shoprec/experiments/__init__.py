"""Strategy optimisation: A/B experiments over pipeline strategies (sticky assignment,
exact attribution, honest statistics), Thompson-sampling bandits, off-policy tuning of the
re-rank weights, and a simulator of Beauty shoppers that knows the truly better strategy.

Layer: beside training and marketing (neither may import the other); experiments may import
nlp, ranking, online, models, store, text, data, compute and settings. Evaluation, serving and
the CLI build on it.
"""
