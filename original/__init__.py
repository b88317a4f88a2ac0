"""The synchronous handler (``SERVICE_HANDLER=sync``): the original, pre-migration design, and any
variant of it.

Plain ``def`` endpoints (Starlette runs them on its 40-thread pool), one synchronous
``MongoClient`` per process, and the reply sent inline before the webhook answers. The other
choices are read from the settings (:mod:`contract.architecture`): the connection pool, the
business cache, the migration's indexes, a new or a shared outbound ``httpx.Client``, the
checklist's request-timing middleware. The original variant takes none of them: the driver's
default pool, no cache (a lookup and a decryption per message), no indexes, a new client per call.
"""
