"""Marketing: audiences (the shoppers most likely to buy from a category next) and
personalised messages whose every fact is cited.

Layer: beside training and experiments (neither may import the other); marketing may import
nlp, ranking, online, models, store, text, data, compute and settings. Evaluation, serving
and the CLI build on it.
"""
