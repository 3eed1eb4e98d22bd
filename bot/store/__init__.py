"""Storage: one SQLite file that only ever holds ciphertext for what a person wrote or is.

The store stores. It never encrypts, decrypts or decides: callers hand it bytes that the crypto
layer already sealed, and it hands the same bytes back.
"""

from bot.store.db import Database, open_database

__all__ = ["Database", "open_database"]
