"""The HTTP service: the :class:`~shoprec.serving.engine.Engine` facade over its jobs (ingest,
recommend, discovery, review sentiment) and where shoppers' states live (embedded or Redis,
:mod:`.backend`, :mod:`.shared`), assembly from a dataset (:mod:`.build`), the app, its routes,
schemas and storefront, hot reload, metrics, load shedding and worker processes.

Layer: serving may import every package but cli and settings_doc, which build on it.
"""
