"""WhatsApp through the same Messages API, with `whatsapp:` addresses.

Business-initiated free-form text outside the recipient's 24-hour session is refused by the
provider (63016, in a failed receipt); a content template (ContentSid) is always allowed.
"""

from __future__ import annotations

from schemas.messages import SenderChannel
from workers.channels.sms import MessagesApiChannel


class WhatsAppChannel(MessagesApiChannel):
    name: SenderChannel = "WHATSAPP"
    address_prefix = "whatsapp:"
