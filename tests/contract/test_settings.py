import pytest

from contract import SettingsError, load_settings

REQUIRED = {"ENCRYPTION_SECRET": "s3cret-value", "WHATSAPP_VERIFY_TOKEN": "verify-me"}


@pytest.fixture
def env(monkeypatch):
    for name in (
        "ENCRYPTION_SECRET",
        "WHATSAPP_VERIFY_TOKEN",
        "WHATSAPP_APP_SECRET",
        "LLM_BASE_URL",
        "MONGODB_URI",
        "BUSINESS_CACHE_TTL",
        "ADMIN_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_are_the_seeds(env):
    for name, value in REQUIRED.items():
        env.setenv(name, value)
    s = load_settings()
    assert (s.business_cache_ttl, s.business_cache_size) == (300, 1000)
    assert (s.mongodb_max_pool_size, s.mongodb_min_pool_size, s.warmup_cache) == (100, 10, True)
    assert s.graph_api_root == "https://graph.facebook.com/v21.0"
    assert s.llm_base_url is None and s.whatsapp_app_secret is None and s.admin_token is None


def test_missing_secret_names_the_variable(env):
    env.setenv("WHATSAPP_VERIFY_TOKEN", "x")
    with pytest.raises(SettingsError, match="ENCRYPTION_SECRET is required"):
        load_settings()


def test_bad_value_names_the_variable_and_hides_secrets(env):
    for name, value in REQUIRED.items():
        env.setenv(name, value)
    env.setenv("BUSINESS_CACHE_TTL", "soon")
    with pytest.raises(SettingsError, match="BUSINESS_CACHE_TTL") as caught:
        load_settings()
    assert "s3cret-value" not in str(caught.value)


def test_secrets_never_show_in_repr(env):
    for name, value in REQUIRED.items():
        env.setenv(name, value)
    env.setenv("WHATSAPP_APP_SECRET", "app-secret-value")
    text = repr(load_settings()) + str(load_settings().model_dump())
    assert "s3cret-value" not in text and "app-secret-value" not in text


def test_blank_optional_values_mean_unset(env):
    for name, value in REQUIRED.items():
        env.setenv(name, value)
    env.setenv("LLM_BASE_URL", "")
    env.setenv("ADMIN_TOKEN", "")
    s = load_settings()
    assert s.llm_base_url is None and s.admin_token is None
