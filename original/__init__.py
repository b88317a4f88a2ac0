"""The original, synchronous webhook service: the pre-migration design the harness measures.

Plain ``def`` endpoints (Starlette runs them on its 40-thread pool), one synchronous
``MongoClient`` per process with the driver's default pool, no cache (the business is looked up
and its token decrypted for every message), a new HTTP client for every outbound call, and the
reply sent inline before the webhook answers. It creates no indexes: the migration adds them.
"""
