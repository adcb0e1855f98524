"""In-memory Conversations: conversations with their participants, messages and receipts,
and the index of messaging bindings (address + proxy address) in use."""

from __future__ import annotations

import msgspec


class Binding(msgspec.Struct, kw_only=True):
    type: str  # "sms" or "whatsapp"
    address: str | None = None
    proxy_address: str | None = None
    projected_address: str | None = None


class ParticipantRecord(msgspec.Struct, kw_only=True):
    sid: str
    account_sid: str
    conversation_sid: str
    identity: str | None
    attributes: str
    binding: Binding | None
    role_sid: str
    date_created: float
    date_updated: float


class ReceiptRecord(msgspec.Struct, kw_only=True):
    sid: str
    account_sid: str
    conversation_sid: str
    message_sid: str
    channel_message_sid: str
    participant_sid: str
    status: str
    error_code: int = 0
    date_created: float
    date_updated: float


class ConversationMessageRecord(msgspec.Struct, kw_only=True):
    sid: str
    account_sid: str
    conversation_sid: str
    index: int
    author: str
    body: str | None
    attributes: str
    participant_sid: str | None
    content_sid: str | None
    media_sid: str | None
    date_created: float
    date_updated: float
    receipts: list[ReceiptRecord] = msgspec.field(default_factory=list)


class ConversationRecord(msgspec.Struct, kw_only=True):
    sid: str
    account_sid: str
    chat_service_sid: str
    messaging_service_sid: str
    friendly_name: str | None
    unique_name: str | None
    attributes: str
    state: str
    timers: dict[str, str]
    date_created: float
    date_updated: float
    participants: dict[str, ParticipantRecord] = msgspec.field(default_factory=dict)
    messages: list[ConversationMessageRecord] = msgspec.field(default_factory=list)

    def find_message(self, sid: str) -> ConversationMessageRecord | None:
        return next((message for message in self.messages if message.sid == sid), None)


BindingKey = tuple[str, str, str]  # (account sid, address, proxy address)


class ConversationStore:
    def __init__(self) -> None:
        self.by_sid: dict[str, ConversationRecord] = {}
        self.by_account: dict[str, list[ConversationRecord]] = {}
        self.bindings: dict[BindingKey, tuple[str, str]] = {}  # -> (conversation, participant)

    def add(self, conversation: ConversationRecord) -> None:
        self.by_sid[conversation.sid] = conversation
        self.by_account.setdefault(conversation.account_sid, []).append(conversation)

    def find(self, account_sid: str, sid_or_unique_name: str) -> ConversationRecord | None:
        conversation = self.by_sid.get(sid_or_unique_name)
        if conversation is None:
            conversation = next(
                (
                    candidate
                    for candidate in self.by_account.get(account_sid, [])
                    if candidate.unique_name == sid_or_unique_name
                ),
                None,
            )
        if conversation is None or conversation.account_sid != account_sid:
            return None
        return conversation

    def remove(self, conversation: ConversationRecord) -> None:
        self.release_bindings(conversation)
        self.by_sid.pop(conversation.sid, None)
        listed = self.by_account.get(conversation.account_sid, [])
        if conversation in listed:
            listed.remove(conversation)

    def release_bindings(self, conversation: ConversationRecord) -> None:
        for participant in conversation.participants.values():
            self.unbind(participant)

    def bind(self, participant: ParticipantRecord) -> None:
        key = binding_key(participant)
        if key is not None:
            self.bindings[key] = (participant.conversation_sid, participant.sid)

    def unbind(self, participant: ParticipantRecord) -> None:
        key = binding_key(participant)
        if key is not None and self.bindings.get(key, ("", ""))[1] == participant.sid:
            del self.bindings[key]

    def clear(self) -> None:
        self.by_sid.clear()
        self.by_account.clear()
        self.bindings.clear()


def binding_key(participant: ParticipantRecord) -> BindingKey | None:
    binding = participant.binding
    if binding is None or binding.address is None or binding.proxy_address is None:
        return None
    return (participant.account_sid, binding.address, binding.proxy_address)
