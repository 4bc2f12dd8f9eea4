"""An OutputChannel base for connectors that render a channel-neutral :class:`Reply` natively."""

from __future__ import annotations

from typing import Any

from rasa.core.channels.channel import OutputChannel

from bot.channels.inbound import platform_user_id
from bot.channels.replies import from_rasa
from bot.replies import Reply


class ReplyOutputChannel(OutputChannel):
    """Routes every Rasa send method through :meth:`send_reply`, so a connector renders one format.

    Rasa names the recipient by conversation id (``"<channel>:<platform id>"``, see
    :func:`bot.channels.inbound.conversation_id`); :meth:`send_reply` gets the platform's own id.
    """

    async def send_reply(self, recipient_id: str, reply: Reply) -> Any:
        """Render ``reply`` on the platform (text, buttons, links; split at its limit)."""
        raise NotImplementedError

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        """Rasa's entry point for every bot utterance."""
        await self.send_reply(self._platform_id(recipient_id), from_rasa(message))

    def _platform_id(self, recipient_id: str) -> str:
        return platform_user_id(recipient_id, self.name())

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_reply(self._platform_id(recipient_id), Reply(text=text))

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_reply(self._platform_id(recipient_id), from_rasa({"text": text, "buttons": buttons}))

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        await self.send_reply(self._platform_id(recipient_id), from_rasa({"custom": json_message}))
