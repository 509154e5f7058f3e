"""A typed Python client of the shoprec HTTP API, sync (:class:`Client`) and async
(:class:`AsyncClient`), over httpx.

Standalone: it imports nothing from the rest of shoprec (``.importlinter`` keeps it so), so a
shop's backend can use it against a remote server. One method per operation of the OpenAPI
document, named by its operation id (``get_recommendations``, ``post_events``...); request
bodies' fields are keyword arguments, answers are the JSON bodies, typed by :mod:`.types`.
``tests/test_client.py`` checks the methods against the app's OpenAPI document.

    from shoprec.client import Client

    with Client("http://127.0.0.1:8000", api_key="...") as shop:
        shop.post_events(events=[{"user_id": "u1", "item_id": "i1", "type": "view"}])
        feed = shop.get_recommendations("u1", n=10)
        token = shop.create_token(user_id="u1", ttl_s=900)["token"]

    # what a shopper's app holds: that shopper's data only (docs/security.md)
    with Client("http://127.0.0.1:8000", token=token) as me:
        me.get_profile("u1")
"""

from shoprec.client.aio import AsyncClient
from shoprec.client.base import ShoprecError
from shoprec.client.sync import Client

__all__ = ["AsyncClient", "Client", "ShoprecError"]
