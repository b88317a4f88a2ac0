from pymongo import MongoClient

from contract import TokenCipher, business_from_document, business_lookup_filter
from harness.bench.seeding import SeedPlan, access_token_for, disabled_phone_number_id, phone_number_id, seed_businesses


def test_seed_writes_the_seeds_document_shape_and_is_idempotent(database):
    plan, cipher = SeedPlan(4, 3, "seed-test"), TokenCipher("enc-secret")
    with MongoClient(database.uri) as client:
        client.drop_database("t_seed")
        db = client["t_seed"]
        first = seed_businesses(db, plan, cipher)
        again = seed_businesses(db, plan, cipher)
        assert (first.inserted, first.already_present) == (6, 0)  # 4 active + disabled + inactive
        assert (again.inserted, again.already_present) == (0, 6)
        assert {"webhook_lookup_idx", "subdomain_lookup_idx"} <= {i["name"] for i in db.businesses.list_indexes()}

        document = db.businesses.find_one(business_lookup_filter(phone_number_id(2, 1)))
        assert set(document) == {
            "_id",
            "name",
            "subDomain",
            "wabaId",
            "whatsappPhoneNumberIds",
            "whatsappAccessToken",
            "whatsappRefreshToken",
            "whatsappTokenExpiresAt",
            "whatsappEnabled",
            "isActive",
            "createdAt",
        }
        assert access_token_for(plan, 2) not in str(document)  # encrypted at rest
        assert business_from_document(document, cipher).access_token == access_token_for(plan, 2)
        assert db.businesses.find_one(business_lookup_filter(disabled_phone_number_id("disabled"))) is None
        assert db.businesses.find_one(business_lookup_filter(disabled_phone_number_id("inactive"))) is None


def test_without_indexes(database):
    with MongoClient(database.uri) as client:
        client.drop_database("t_seed_plain")
        report = seed_businesses(client["t_seed_plain"], SeedPlan(2, 1), TokenCipher("x"), indexes=False)
        assert report.indexes == ("processed_expiry_idx",)  # housekeeping, for every variant
        assert [i["name"] for i in client["t_seed_plain"].businesses.list_indexes()] == ["_id_"]


def test_phone_ids_are_fifteen_digits_and_unique():
    ids = SeedPlan(200, 3).active_phone_ids()
    assert len(set(ids)) == 600 and all(len(i) == 15 and i.isdigit() for i in ids)


def test_tokens_differ_by_business_and_by_seed():
    assert access_token_for(SeedPlan(token_seed="a"), 1) != access_token_for(SeedPlan(token_seed="a"), 2)
    assert access_token_for(SeedPlan(token_seed="a"), 1) != access_token_for(SeedPlan(token_seed="b"), 1)
