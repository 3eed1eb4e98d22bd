"""The Telegram edge: translate updates into plain events and plain replies into Bot API calls.

Nothing here decides anything or touches keys or SQL; the services do.
"""
