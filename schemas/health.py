"""Wire contract of the liveness and readiness answers."""

from __future__ import annotations

from typing import Annotated

import msgspec


class Health(msgspec.Struct):
    """Whether the process (liveness) or its backing services (readiness) are fine."""

    status: Annotated[
        str,
        msgspec.Meta(
            description="ok; unavailable when PostgreSQL or Redis failed its check; degraded "
            "(readiness, still 200) when they answer but no worker is alive.",
            examples=["ok"],
            extra_json_schema={"enum": ["ok", "degraded", "unavailable"]},
        ),
    ]
    checks: Annotated[
        dict[str, str],
        msgspec.Meta(
            description="Readiness: each backing service (postgres, redis) and `ok` or why not; "
            "`workers`: how many worker processes beat their heartbeat lately (`2 alive`, "
            "`none alive`).",
            examples=[{"postgres": "ok", "redis": "ok", "workers": "2 alive"}],
        ),
    ] = msgspec.field(default_factory=dict)
