"""A Telegram intake bot for people leaving an armed force.

Built so that a seized server reveals no submitted case and no applicant's identity.
"""

__version__ = "0.1.0"
