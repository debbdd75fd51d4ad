"""API keys and personal tokens: `<kind>_<prefix>_<secret>`. The prefix finds the row; only
the SHA-256 of the whole key is stored (the key is 256 random bits, so a fast hash is
enough: there is nothing to brute-force)."""

import hmac
import secrets

from reviewqueue.lib.canonical import sha256_hex

SOURCE_KEY_KIND = "rq"
PERSONAL_TOKEN_KIND = "rqp"  # noqa: S105 - a key prefix, not a secret


def generate(kind: str) -> tuple[str, str, str]:
    """Returns (plain key, prefix, hash)."""
    prefix = secrets.token_hex(6)
    plain = f"{kind}_{prefix}_{secrets.token_urlsafe(32)}"
    return plain, prefix, hash_key(plain)


def hash_key(plain: str) -> str:
    return sha256_hex(plain.encode())


def parse_prefix(plain: str, kind: str) -> str | None:
    parts = plain.split("_", 2)
    if len(parts) != 3 or parts[0] != kind or len(parts[1]) != 12 or not parts[2]:
        return None
    return parts[1]


def matches(plain: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key(plain), stored_hash)
