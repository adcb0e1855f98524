"""The error body every 4xx/5xx answer carries."""

from __future__ import annotations

from typing import Annotated

import msgspec

from schemas.common import Url


class ErrorItem(msgspec.Struct, rename="camel", omit_defaults=False):
    """One problem: a Twilio error code where one exists, else one of ours (9xxxx)."""

    code: Annotated[
        int, msgspec.Meta(description="The error code (see `infoUrl`).", examples=[21211])
    ]
    message: Annotated[
        str, msgspec.Meta(description="What is wrong.", examples=["Invalid 'To' phone number"])
    ]
    info_url: Annotated[
        Url,
        msgspec.Meta(
            description="The code's documentation: Twilio's page for a Twilio code, the "
            "service's error-code page (/docs/errors) for one of its own.",
            examples=["https://www.twilio.com/docs/api/errors/21211"],
        ),
    ]
    context: Annotated[
        str | None,
        msgspec.Meta(
            description="The JSON path of the offending field (`$` the whole body), or null.",
            examples=["$.to[3].address"],
        ),
    ] = None


class ErrorBody(msgspec.Struct):
    """What a 4xx or 5xx answer carries: every problem found (at most 100), not only the first."""

    errors: Annotated[
        list[ErrorItem],
        msgspec.Meta(
            description="The problems, in the order found.",
            extra_json_schema={"minItems": 1, "maxItems": 100},
        ),
    ]
