"""HTTP request and response schemas, one module per route group (pydantic stays at the edge).
Every constraint here is a clear 422 naming the field, never a 500 and never a silent drop.

``common`` holds what the groups share (the error body and the documented error answers among
it); ``events``, ``items``, ``users`` (recommendations, profile, feedback, export, erasure),
``search`` (search and the assistant), ``marketing``, ``sentiment`` and ``experiments`` each
serve the router of the same name in :mod:`shoprec.serving.routes`. They import only pydantic
and :mod:`shoprec.data` (the records they convert to).
"""
