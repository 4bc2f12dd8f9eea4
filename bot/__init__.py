"""Trợ lý Dịch vụ công: domain services for the public-service assistant.

Only the adapters (``bot.nlu``, ``bot.channels``) and the runtime (``bot.runtime``) import
Rasa; the foundation and the domain services never do. The layers and the import rules are in
docs/ARCHITECTURE.md ("Layers") and are enforced by ``tests/test_architecture.py``.
"""

__version__ = "0.1.0"
