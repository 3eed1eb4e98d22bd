"""Operator tasks that run beside the bot: key rotation, health checks, retention, backups."""
