"""The API's routers, one per resource (events, items, users, experiments, search, assistant,
marketing, sentiment, ops); ``deps`` holds what they share: the ``/v1`` prefix
(:func:`~shoprec.serving.routes.deps.api_router`), the engine dependency and the access levels.
Their request and response bodies are :mod:`shoprec.serving.schemas`."""
