"""Rasa tokenizer component for Vietnamese (see :mod:`bot.nlu.segmentation`)."""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.segmentation import segment


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class VietnameseTokenizer(Tokenizer):
    """Word-segments Vietnamese (underthesea by default, pyvi or syllables as alternatives).

    Each token's lemma is its lower-case, diacritic-free form, so featurizers
    with ``use_lemma: true`` see "Đăng ký", "dang ky" and "ĐĂNG KÝ" as one word.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Default config: underthesea segmentation, no intent splitting."""
        return {
            "segmenter": "underthesea",
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
        }

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> VietnameseTokenizer:
        """Create the component."""
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        """Tokenize one attribute of ``message``."""
        text = message.get(attribute) or ""
        # Only training examples carry entities at this point: their edges become token edges.
        edges = (
            frozenset(offset for e in message.get(ENTITIES) or [] for offset in (e["start"], e["end"]))
            if attribute == TEXT
            else frozenset()
        )
        spans = segment(text, self._config["segmenter"], edges)
        # Pass the end explicitly: Token defaults it to start + len(text), and the text is NFC
        # while the offsets point into the message as received (NFD from iPhone keyboards).
        tokens = [Token(s.text, s.start, s.end, lemma=s.lemma) for s in spans]
        return self._apply_token_pattern(tokens)
