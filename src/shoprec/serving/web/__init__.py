"""The storefront (``/``) and the merchant dashboard (``/dashboard``): the page routes
(``routes.py``), their Jinja templates and static files. The pages call the public API from the
browser; nothing here is part of the OpenAPI schema."""
