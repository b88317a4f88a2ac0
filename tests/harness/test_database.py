import asyncio

import psutil
import pytest
from pymongo import AsyncMongoClient, MongoClient
from pymongo.errors import DuplicateKeyError

from harness.bench.database import EmbeddedDatabase, database_server, ping, server_status


def test_the_embedded_server_speaks_the_wire_protocol_to_pymongo(database):
    with MongoClient(database.uri) as client:
        collection = client["t_database"]["docs"]
        collection.drop()
        collection.insert_many([{"_id": i, "ids": [str(i)], "on": True} for i in range(20)])
        collection.create_index([("ids", 1), ("on", 1)], name="lookup")
        assert collection.find_one({"ids": "7", "on": True})["_id"] == 7
        with pytest.raises(DuplicateKeyError):
            collection.insert_one({"_id": 3})
        status = server_status(client)
        assert status.opcounters["insert"] >= 1 and status.connections_current >= 1


def test_the_embedded_server_speaks_to_the_async_drivers(database):
    from motor.motor_asyncio import AsyncIOMotorClient

    async def scenario():
        client = AsyncMongoClient(database.uri)
        try:
            await client["t_database"]["async"].insert_one({"_id": "a"})
            assert (await client["t_database"]["async"].find_one({"_id": "a"})) == {"_id": "a"}
        finally:
            await client.close()
        motor = AsyncIOMotorClient(database.uri)
        assert (await motor["t_database"]["async"].find_one({"_id": "a"})) == {"_id": "a"}
        motor.close()

    asyncio.run(scenario())


def test_a_second_server_on_a_used_port_is_refused(database):
    if database.embedded is None:
        pytest.skip("MONGODB_URI is set: no embedded server to collide with")
    with pytest.raises(OSError, match="already in use"):
        EmbeddedDatabase(port=database.embedded.port).start()


def test_the_context_starts_and_stops_its_own_server(monkeypatch):
    monkeypatch.delenv("MONGODB_URI", raising=False)
    with database_server() as server:
        pid = server.pid
        assert ping(server.uri)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_an_unreachable_uri_is_a_clear_error():
    with pytest.raises(ConnectionError, match="does not answer"), database_server("mongodb://u:pw@127.0.0.1:1/"):
        pass


def test_an_in_memory_server_leaves_no_scratch_directory_behind():
    server = EmbeddedDatabase().start()
    scratch = server.scratch
    try:
        assert ping(server.uri) and scratch.is_dir()
    finally:
        server.stop()
    assert not scratch.exists()
