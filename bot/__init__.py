"""Trợ lý Dịch vụ công: domain services for the public-service assistant.

Nothing in this package (except ``bot.nlu`` and ``bot.channels``) imports Rasa.
"""

__version__ = "0.1.0"
