"""Shop data as records and sequences: the event/item/review records, id maps, the loaders of
public datasets and shop export folders, train/test splits and the synthetic shop.

The lowest layer but one: it may import only :mod:`shoprec.settings` (and third-party
libraries); every other package may import it.
"""
