"""The record of conversations: a read model fed by Rasa's event stream (no Rasa or web imports).

:class:`~bot.conversations.recorder.Recorder` applies events (idempotently) to the ``conv_*``
tables; :class:`~bot.conversations.query.ConversationRecord` lists, filters and reads them;
:func:`~bot.conversations.rebuild.rebuild` remakes the record from the tracker store.
"""

from bot.conversations.query import ConversationFilter, ConversationRecord, ConversationSummary, Page, Turn
from bot.conversations.recorder import Recorder

__all__ = ["ConversationFilter", "ConversationRecord", "ConversationSummary", "Page", "Recorder", "Turn"]
