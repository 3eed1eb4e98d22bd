"""Application services: where the pure rules meet the store and the keys.

A service takes plain events, runs the pure engine, writes the result through the store with
the crypto layer's help, and returns plain replies. It knows nothing of Telegram.
"""
