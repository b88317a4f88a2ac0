"""The asynchronous handler (``SERVICE_HANDLER=async``): the migration's candidates, the
checklist's design and the optimized one, and any variant of them.

All ``async def``; one pooled async MongoDB client per worker process (PyMongo's
``AsyncMongoClient``, or motor). The other choices are read from the settings
(:mod:`contract.architecture`): the pool's size, the business cache with its warm-up, the
migration's indexes, the outbound client (a new or a shared one, httpx or aiohttp), the messages
of a batch one after another or concurrently, the operational routes with slowapi limits,
failing fast while the database is down, the checklist's request-timing middleware.
"""
