"""The optimized, async webhook service: the migration candidate.

All ``async def``; one pooled async MongoDB client per worker process (PyMongo's
``AsyncMongoClient``, or motor with ``MONGO_DRIVER=motor``); a TTL cache of businesses with
their tokens already decrypted, filled in one query at start-up; indexes ensured at start-up;
one shared outbound HTTP client; rate limits; and health, readiness and metrics endpoints.
"""
