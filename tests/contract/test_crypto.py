import pytest

from contract import TokenCipher, TokenDecryptionError, fernet_key

# A fixed vector in the seed's format, so compatibility cannot drift: the key is
# urlsafe_b64encode(sha256(secret)), the stored value is the hex of the Fernet token.
SECRET = "seed-compatibility-secret"
KEY = b"nu50ubJeJvJJ5-9Jfw1o0QWM9_FlU8SekXYfUVDzlyw="
STORED = (
    "674141414141426e5351514141414543417751464267634943516f4c4441304f44776d3371474751364d4459"
    "7042697932475871445343304f53346b42567244514e7252503430776c7353647a7a50764b786d733247714c"
    "6c366a455457367364634246457477624565624b2d686f58746b455f4437303d"
)
PLAINTEXT = "EAAGtestvector0123456789"


def test_key_derivation_matches_the_seed():
    assert fernet_key(SECRET) == KEY


def test_fixed_vector_decrypts():
    assert TokenCipher(SECRET).decrypt(STORED) == PLAINTEXT


def test_round_trip_stores_hex():
    cipher = TokenCipher(SECRET)
    stored = cipher.encrypt("EAAG-some-token")
    int(stored, 16)  # hex only
    assert cipher.decrypt(stored) == "EAAG-some-token"


@pytest.mark.parametrize("stored", [STORED, PLAINTEXT, "zz", "", STORED[:-2]])
def test_wrong_secret_or_garbage_is_an_error_never_plaintext(stored):
    with pytest.raises(TokenDecryptionError) as caught:
        TokenCipher("another-secret").decrypt(stored)
    assert PLAINTEXT not in str(caught.value)


def test_repr_hides_the_key():
    assert "secret" in repr(TokenCipher(SECRET)).lower() and KEY.decode() not in repr(TokenCipher(SECRET))
