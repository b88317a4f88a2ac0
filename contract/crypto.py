"""Access tokens are encrypted at rest exactly as the seed's database has them.

Fernet with key ``urlsafe_b64encode(sha256(ENCRYPTION_SECRET))``, stored as the hex of the Fernet
token. A wrong secret is an error, never a silent fallback to treating the stored value as
plaintext (which would send ciphertext to Meta as a bearer token, or worse, accept plaintext).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

__all__ = ["TokenCipher", "TokenDecryptionError", "fernet_key"]


class TokenDecryptionError(ValueError):
    """A stored token cannot be decrypted with this ``ENCRYPTION_SECRET``. Carries no token text."""


def fernet_key(secret: str) -> bytes:
    return base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())


class TokenCipher:
    __slots__ = ("_fernet",)

    def __init__(self, secret: str) -> None:
        self._fernet = Fernet(fernet_key(secret))

    def encrypt(self, token: str) -> str:
        return self._fernet.encrypt(token.encode()).hex()

    def decrypt(self, stored: str) -> str:
        try:
            return self._fernet.decrypt(bytes.fromhex(stored)).decode()
        except (ValueError, InvalidToken, TypeError):
            raise TokenDecryptionError("stored access token cannot be decrypted with ENCRYPTION_SECRET") from None

    def __repr__(self) -> str:
        return "TokenCipher(<secret>)"
