"""Strategy optimisation: A/B experiments over pipeline strategies (sticky assignment,
exact attribution, honest statistics), Thompson-sampling bandits, off-policy tuning of the
re-rank weights, and a simulator of Beauty shoppers that knows the truly better strategy."""
