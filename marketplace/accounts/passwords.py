"""Passwords and client secrets are hashed with Argon2id, a memory-hard KDF."""

from __future__ import annotations

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)


def configure(profile_name: str) -> None:
    """Pick an argon2 profile by name (tests use CHEAPEST; production keeps the default)."""
    global _hasher
    _hasher = PasswordHasher.from_parameters(getattr(profiles, profile_name))


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(stored_hash: str | None, candidate: str) -> bool:
    if not stored_hash or not candidate:
        return False
    try:
        return _hasher.verify(stored_hash, candidate)
    except (VerificationError, InvalidHashError):
        return False
