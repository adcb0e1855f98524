"""Examples of the wire contracts, as the OpenAPI document shows them.

Each is an instance of its Struct, so mypy holds it to the contract and the document shows it
encoded exactly as the API writes it. service/openapi/components.py gives every component schema the
first instance of its type found in these (nested ones included), and every request body and
answer the example of its type.
"""

from __future__ import annotations

import msgspec

from schemas.audiences import (
    AudienceCreate,
    AudienceMembersChange,
    AudienceMembersChanged,
    AudienceMembersPage,
    AudienceRead,
    AudiencesPage,
)
from schemas.common import Pagination, Related
from schemas.errors import ErrorBody, ErrorItem
from schemas.events import (
    EventAddress,
    MessageCloudEvent,
    MessageEventData,
    OperationCloudEvent,
    OperationEventData,
)
from schemas.health import Health
from schemas.messages import (
    AddressIn,
    AddressOut,
    AttemptRead,
    ContentIn,
    DryRunRecipient,
    DryRunResult,
    DryRunSender,
    ErrorDetail,
    MediaIn,
    MessageContentOut,
    MessageDetail,
    MessageRead,
    MessagesPage,
    RecipientIn,
    ScheduleIn,
    SearchMessagesRequest,
    SenderIn,
    SenderOut,
    SendMessagesAccepted,
    SendMessagesRequest,
    TextEncoding,
)
from schemas.operations import (
    CancelOperationAccepted,
    ErrorCodeCount,
    OperationError,
    OperationErrorsPage,
    OperationRead,
    OperationsPage,
    OperationStats,
)
from schemas.profiles import (
    ProfileAddress,
    ProfileCreate,
    ProfileImportError,
    ProfileImportRead,
    ProfileRead,
    ProfilesPage,
    ProfileUpdate,
)
from schemas.senders import (
    SenderCreate,
    SenderPoolCreate,
    SenderPoolRead,
    SenderPoolsPage,
    SenderPoolUpdate,
    SenderRead,
    SendersPage,
)
from schemas.suppressions import SuppressionCreate, SuppressionRead, SuppressionsPage
from schemas.webhooks import (
    DeliveriesPage,
    DeliveryAttemptRead,
    DeliveryRead,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
    WebhooksPage,
)

# The base URL of the examples' absolute URLs (a deployment writes its public base URL).
BASE_URL = "https://comms.example"

OPERATION_ID = "comms_operation_01m8h0jzqsechs3yv6kh2qxj5m"
MESSAGE_ID = "comms_message_01m8h0jzqtf5v9w3b8m2n6k4x1"
SENDER_ID = "comms_sender_01m8h0jzqsechs3yv6kh2qxj5p"
WHATSAPP_SENDER_ID = "comms_sender_01m8h0k3c9v7w2x4y6z8a0b2c4"
SENDER_POOL_ID = "comms_senderpool_01m8h0jzqsechs3yv6kh2qxj5q"
WEBHOOK_ID = "comms_webhook_01m8h0jzqsechs3yv6kh2qxj5m"
DELIVERY_ID = "comms_delivery_01m8h0jzqsechs3yv6kh2qxj5r"
AUDIENCE_ID = "comms_audience_01m8h0jzqsechs3yv6kh2qxj5t"
PROFILE_ID = "comms_profile_01m8h0jzqsechs3yv6kh2qxj5v"
PROVIDER_SID = "SM0123456789abcdef0123456789abcdef"
OPERATION_URL = f"{BASE_URL}/v1/Messages/Operations/{OPERATION_ID}"
SIGNING_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PAGE_TOKEN = "eyJ2IjoyLCJxIjoiOWYyYzQxIiwiYXQiOjE3OTQ3OTM2MDAxMjMwMDAsImlkIjoiMDE5In0"
SELF_TOKEN = "eyJ2IjoyLCJxIjoiOWYyYzQxIiwiYXQiOm51bGwsImlkIjpudWxsfQ"

SMS_SENDER = SenderOut(address="+15017122661", channel="SMS")
TO = AddressOut(address="+15558675310", channel="PHONE")
LAST_PAGE = Pagination(next=None, self=SELF_TOKEN)

# Request bodies -------------------------------------------------------------------------------

SEND_TO_TWO = SendMessagesRequest(
    to=[
        RecipientIn(address="+15558675310", channel="PHONE", variables={"name": "Ada"}),
        RecipientIn(address="+15558675311", channel="PHONE"),
    ],
    content=ContentIn(text="Hello {{ name | default: 'there' }}!"),
    from_=SenderIn(address="+15017122661", channel="SMS"),
    tags={"campaign": "welcome"},
)
SEND_WITH_FALLBACK = SendMessagesRequest(
    to=[
        RecipientIn(
            addresses=[
                AddressIn(address="+15558675310", channel="WHATSAPP"),
                AddressIn(address="+15558675310", channel="PHONE"),
            ],
            variables={"name": "Ada"},
        )
    ],
    content=ContentIn(
        text="Your order has shipped, {{ name }}.",
        media=[MediaIn(url="https://assets.example.com/parcel.png")],
    ),
    from_=SenderIn(sender_pool_id=SENDER_POOL_ID),
    validity_period=3600,
    status_callback="https://hooks.example.com/operations",
)
SEND_SCHEDULED = SendMessagesRequest(
    to=[RecipientIn(address="+15558675310", channel="WHATSAPP", variables={"1": "Ada"})],
    content=ContentIn(content_id="HXb5b62575e6e4ff6129ad7c8efe1f983e"),
    from_=SenderIn(sender_id=WHATSAPP_SENDER_ID),
    schedule=ScheduleIn(send_at=["2026-12-01T09:30:00"]),
    tags={"campaign": "reminder"},
)
SEND_TO_AUDIENCE = SendMessagesRequest(
    to=[RecipientIn(audience_id=AUDIENCE_ID), RecipientIn(profile_id=PROFILE_ID)],
    content=ContentIn(text="Hi {{ profile.attributes.firstName | default: 'there' }}!"),
    from_=SenderIn(sender_pool_id=SENDER_POOL_ID),
    schedule=ScheduleIn(send_at=["2026-12-01T09:30:00"]),
    tags={"campaign": "pro-launch"},
)
AUDIENCE_CREATE = AudienceCreate(
    display_name="Pro customers", filter={"attributes.plan": {"in": ["pro", "team"]}}
)
AUDIENCE_MEMBERS_CHANGE = AudienceMembersChange(profile_ids=[PROFILE_ID])
SEARCH = SearchMessagesRequest(
    status="FAILED",
    tags={"campaign": "welcome"},
    start_date="2026-11-01T00:00:00Z",
    end_date="2026-12-01T00:00:00Z",
)

SENDER_CREATE = SenderCreate(address="+15017122661", channel="SMS", kind="LONG_CODE", mps=1.0)
SENDER_POOL_CREATE = SenderPoolCreate(
    display_name="Marketing US", senders=[WHATSAPP_SENDER_ID, SENDER_ID], is_default=True
)
SENDER_POOL_UPDATE = SenderPoolUpdate(display_name="Marketing US and CA")
SUPPRESSION_CREATE = SuppressionCreate(address="+15558675310")
PROFILE_CREATE = ProfileCreate(
    external_id="crm-42",
    addresses=[
        ProfileAddress(address="+15558675310", channel="WHATSAPP"),
        ProfileAddress(address="+15558675310", channel="SMS"),
    ],
    attributes={"firstName": "Ada", "plan": "pro", "age": 36, "vip": True},
    time_zone="Europe/Paris",
)
PROFILE_UPDATE = ProfileUpdate(attributes={"plan": "enterprise", "vip": None}, time_zone=None)
WEBHOOK_CREATE = WebhookCreate(
    url="https://hooks.example.com/comms",
    event_types=[
        "com.twilio.comms-api.message.delivered",
        "com.twilio.comms-api.operation.completed",
    ],
)

# Answers ---------------------------------------------------------------------------------------

ACCEPTED = SendMessagesAccepted(operation_id=OPERATION_ID, operation_location=OPERATION_URL)

DRY_RUN = DryRunResult(
    total=1,
    queued=1,
    scheduled=0,
    failed=0,
    suppressed=0,
    segments=1,
    estimated_completion_at="2026-11-25T10:00:01.000Z",
    senders=[
        DryRunSender(
            from_=SMS_SENDER,
            mps=1.0,
            backlog=0,
            messages=1,
            segments=1,
            estimated_completion_at="2026-11-25T10:00:01.000Z",
        )
    ],
    recipients=[
        DryRunRecipient(
            position=0,
            to=TO,
            from_=SMS_SENDER,
            status="QUEUED",
            text="Hello Ada!",
            tags={"campaign": "welcome"},
            encoding=TextEncoding.GSM_7,
            segments=1,
            suppressed=False,
        )
    ],
)

MESSAGE = MessageRead(
    id=MESSAGE_ID,
    operation_id=OPERATION_ID,
    from_=SMS_SENDER,
    to=[TO],
    status="DELIVERED",
    related=[Related(name="OPERATION", id=OPERATION_ID, uri=OPERATION_URL)],
    tags={"campaign": "welcome"},
    scheduled_for=None,
    created_at="2026-11-25T10:00:00.123Z",
    updated_at="2026-11-25T10:00:02.456Z",
    deleted_at=None,
)
MESSAGE_DETAIL = MessageDetail(
    **msgspec.structs.asdict(MESSAGE),
    content=MessageContentOut(text="Hello Ada!"),
    attempts=[
        AttemptRead(
            id=PROVIDER_SID,
            channel="SMS",
            from_=SMS_SENDER,
            to=[TO],
            status="DELIVERED",
            attempted_at="2026-11-25T10:00:00.512Z",
            updated_at="2026-11-25T10:00:02.456Z",
            segments=1,
            error=None,
        )
    ],
)
MESSAGES_PAGE = MessagesPage(messages=[MESSAGE], pagination=LAST_PAGE)

OPERATION = OperationRead(
    id=OPERATION_ID,
    status="PROCESSING",
    tags={"campaign": "welcome"},
    stats=OperationStats(
        total=3,
        recipients=3,
        attempts=2,
        unaddressable=0,
        scheduled=0,
        queued=1,
        sent=1,
        delivered=1,
        read=0,
        undelivered=0,
        failed=0,
        canceled=0,
    ),
    created_at="2026-11-25T10:00:00.123Z",
    updated_at="2026-11-25T10:00:00.618Z",
)
OPERATIONS_PAGE = OperationsPage(
    operations=[OPERATION], pagination=Pagination(next=PAGE_TOKEN, self=SELF_TOKEN)
)
CANCELED = CancelOperationAccepted(resource_id=OPERATION_ID, resource_location=OPERATION_URL)
OPERATION_ERRORS = OperationErrorsPage(
    errors=[
        OperationError(
            message_id=MESSAGE_ID,
            status="UNDELIVERED",
            to=[TO],
            error=ErrorDetail(
                code=30003,
                message="Unreachable destination handset",
                info_url="https://www.twilio.com/docs/api/errors/30003",
            ),
            updated_at="2026-11-25T10:00:03.001Z",
        )
    ],
    counts=[ErrorCodeCount(code=30003, count=3), ErrorCodeCount(code=21610, count=1)],
    pagination=LAST_PAGE,
)

SENDER = SenderRead(
    id=SENDER_ID,
    address="+15017122661",
    channel="SMS",
    kind="LONG_CODE",
    mps=1.0,
    created_at="2026-11-20T08:00:00.000Z",
)
WHATSAPP_SENDER = SenderRead(
    id=WHATSAPP_SENDER_ID,
    address="+15017122661",
    channel="WHATSAPP",
    kind="WHATSAPP",
    mps=80.0,
    created_at="2026-11-20T08:01:00.000Z",
)
SENDERS_PAGE = SendersPage(senders=[WHATSAPP_SENDER, SENDER], pagination=LAST_PAGE)
SENDER_POOL = SenderPoolRead(
    id=SENDER_POOL_ID,
    display_name="Marketing US",
    senders=[WHATSAPP_SENDER, SENDER],
    is_default=True,
    created_at="2026-11-20T08:02:00.000Z",
    updated_at="2026-11-20T08:02:00.000Z",
)
SENDER_POOLS_PAGE = SenderPoolsPage(sender_pools=[SENDER_POOL], pagination=LAST_PAGE)

AUDIENCE = AudienceRead(
    id=AUDIENCE_ID,
    display_name="Pro customers",
    filter={"attributes.plan": {"in": ["pro", "team"]}},
    size=1250,
    created_at="2026-11-20T09:00:00.000Z",
    updated_at="2026-11-20T09:00:00.000Z",
)
AUDIENCES_PAGE = AudiencesPage(
    audiences=[msgspec.structs.replace(AUDIENCE, size=None)], pagination=LAST_PAGE
)
AUDIENCE_MEMBERS_CHANGED = AudienceMembersChanged(changed=1, size=1251)
SUPPRESSION = SuppressionRead(
    address="+15558675310", source="INBOUND", created_at="2026-11-25T11:00:00.000Z"
)
SUPPRESSIONS_PAGE = SuppressionsPage(suppressions=[SUPPRESSION], pagination=LAST_PAGE)

WEBHOOK = WebhookRead(
    id=WEBHOOK_ID,
    url="https://hooks.example.com/comms",
    event_types=[
        "com.twilio.comms-api.message.delivered",
        "com.twilio.comms-api.operation.completed",
    ],
    created_at="2026-11-25T09:00:00.000Z",
)
WEBHOOK_CREATED = WebhookCreated(**msgspec.structs.asdict(WEBHOOK), secret=SIGNING_SECRET)
WEBHOOKS_PAGE = WebhooksPage(webhooks=[WEBHOOK], pagination=LAST_PAGE)
DELIVERY = DeliveryRead(
    id=DELIVERY_ID,
    event_id="4711",
    event_type="com.twilio.comms-api.message.delivered",
    operation_id=OPERATION_ID,
    status="SUCCEEDED",
    tries=2,
    next_try_at=None,
    retry_until="2026-11-26T10:00:02.500Z",
    created_at="2026-11-25T10:00:02.500Z",
    updated_at="2026-11-25T10:00:08.120Z",
    attempts=[
        DeliveryAttemptRead(
            attempted_at="2026-11-25T10:00:02.530Z",
            status_code=None,
            error="ConnectTimeout: timed out",
            response_body=None,
            duration_ms=10002,
        ),
        DeliveryAttemptRead(
            attempted_at="2026-11-25T10:00:08.080Z",
            status_code=200,
            error=None,
            response_body="ok",
            duration_ms=40,
        ),
    ],
)
DELIVERIES_PAGE = DeliveriesPage(deliveries=[DELIVERY], pagination=LAST_PAGE)

INVALID_TO = ErrorBody(
    errors=[
        ErrorItem(
            code=21211,
            message="Invalid 'To' phone number",
            info_url="https://www.twilio.com/docs/api/errors/21211",
            context="$.to[3].address",
        )
    ]
)

HEALTHY = Health(status="ok")
READY = Health(status="ok", checks={"postgres": "ok", "redis": "ok"})
NOT_READY = Health(
    status="unavailable", checks={"postgres": "ok", "redis": "unavailable: ConnectionError"}
)

# Events ------------------------------------------------------------------------------------------

OPERATION_COMPLETED = OperationCloudEvent(
    id="4712",
    source=OPERATION_URL,
    type="com.twilio.comms-api.operation.completed",
    time="2026-11-25T10:00:01.900Z",
    specversion="1.0",
    datacontenttype="application/json",
    data=OperationEventData(operation_id=OPERATION_ID),
)
MESSAGE_DELIVERED = MessageCloudEvent(
    id="4711",
    source=OPERATION_URL,
    type="com.twilio.comms-api.message.delivered",
    time="2026-11-25T10:00:01.250Z",
    specversion="1.0",
    datacontenttype="application/json",
    subject=MESSAGE_ID,
    data=MessageEventData(
        operation_id=OPERATION_ID,
        message_id=MESSAGE_ID,
        downstream_id=PROVIDER_SID,
        attempt=1,
        error_code=None,
        from_=EventAddress(address="+15017122661", channel="SMS"),
        to=EventAddress(address="+15558675310", channel="PHONE"),
        tags={"campaign": "welcome"},
    ),
)


def event_example(event_type: str) -> OperationCloudEvent | MessageCloudEvent:
    """An event of this type, as a webhook or the event stream gets it."""
    if ".operation." in event_type:
        return msgspec.structs.replace(OPERATION_COMPLETED, type=event_type)
    error_code = 30003 if event_type.endswith((".undelivered", ".failed")) else None
    data = msgspec.structs.replace(MESSAGE_DELIVERED.data, error_code=error_code)
    return msgspec.structs.replace(MESSAGE_DELIVERED, type=event_type, data=data)


# Every example above, in the order their types' component examples are taken from.
PROFILE_IMPORT_ID = "comms_profileimport_01m8h0jzqsechs3yv6kh2qxj5v"
PROFILE = ProfileRead(
    id=PROFILE_ID,
    external_id="crm-42",
    addresses=[
        ProfileAddress(address="+15558675310", channel="WHATSAPP"),
        ProfileAddress(address="+15558675310", channel="SMS"),
    ],
    attributes={"firstName": "Ada", "plan": "pro", "age": 36, "vip": True},
    time_zone="Europe/Paris",
    created_at="2026-11-25T10:00:00.123Z",
    updated_at="2026-11-25T10:00:00.123Z",
)
PROFILES_PAGE = ProfilesPage(profiles=[PROFILE], pagination=LAST_PAGE)
AUDIENCE_MEMBERS_PAGE = AudienceMembersPage(profiles=[PROFILE], pagination=LAST_PAGE)
PROFILE_IMPORT = ProfileImportRead(
    id=PROFILE_IMPORT_ID,
    status="PROCESSING",
    format="CSV",
    rows_read=100000,
    rows_imported=40000,
    rows_failed=1,
    errors=[
        ProfileImportError(
            row=12,
            code=21211,
            message="Invalid 'To' phone number: expected E.164",
            context="$.addresses[0].address",
        )
    ],
    created_at="2026-11-25T10:00:00.123Z",
    updated_at="2026-11-25T10:00:03.456Z",
)

ALL: tuple[msgspec.Struct, ...] = (
    SEND_TO_TWO,
    SEND_WITH_FALLBACK,
    SEND_SCHEDULED,
    SEND_TO_AUDIENCE,
    SEARCH,
    AUDIENCE_CREATE,
    AUDIENCE_MEMBERS_CHANGE,
    SENDER_CREATE,
    SENDER_POOL_CREATE,
    SENDER_POOL_UPDATE,
    SUPPRESSION_CREATE,
    PROFILE_CREATE,
    PROFILE_UPDATE,
    WEBHOOK_CREATE,
    ACCEPTED,
    DRY_RUN,
    MESSAGE_DETAIL,
    MESSAGES_PAGE,
    OPERATION,
    OPERATIONS_PAGE,
    CANCELED,
    OPERATION_ERRORS,
    SENDERS_PAGE,
    SENDER_POOL,
    SENDER_POOLS_PAGE,
    AUDIENCE,
    AUDIENCES_PAGE,
    AUDIENCE_MEMBERS_CHANGED,
    AUDIENCE_MEMBERS_PAGE,
    SUPPRESSIONS_PAGE,
    PROFILE,
    PROFILES_PAGE,
    PROFILE_IMPORT,
    WEBHOOK_CREATED,
    WEBHOOK,
    WEBHOOKS_PAGE,
    DELIVERIES_PAGE,
    INVALID_TO,
    HEALTHY,
    READY,
    OPERATION_COMPLETED,
    MESSAGE_DELIVERED,
)
