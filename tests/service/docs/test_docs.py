"""GET /docs (the API reference, rendered by the vendored Redoc) and GET /docs/errors (every
error code; `infoUrl` of a code of our own links there): offline, no credentials needed."""

from __future__ import annotations

import hashlib
import re

import httpx

from service.docs.routes import REDOC_BUNDLE, STATIC_DIR
from service.error_codes import CATALOGUE

# sha256 of redoc@2.5.4's bundles/redoc.standalone.js as published on the npm registry.
REDOC_SHA256 = "dcaf76612bc4a3fbcc923a8966dee2f6146a5f32e5ce1b6f02dd60cbbf89500b"


def test_the_vendored_renderer_is_redoc_2_5_4_as_published() -> None:
    bundle = (STATIC_DIR / REDOC_BUNDLE).read_bytes()
    assert hashlib.sha256(bundle).hexdigest() == REDOC_SHA256
    assert (STATIC_DIR / "redoc-2.5.4" / "LICENSE").read_text().startswith("The MIT License")


async def test_the_reference_is_served_offline(anonymous: httpx.AsyncClient, api_url: str) -> None:
    page = await anonymous.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    # What the page loads: only this host's vendored bundle (no CDN, no web fonts).
    loaded = re.findall(r"""<(?:script|link)\b[^>]*\b(?:src|href)=["']([^"']+)""", html)
    assert loaded == ["data:,", f"/docs/static/{REDOC_BUNDLE}"]
    assert "fonts.googleapis" not in html
    # The browser may fetch nothing off this host (the bundle's own CDN logo included).
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "img-src 'self' data:" in policy
    assert "connect-src 'self'" in policy
    assert "http" not in policy
    # The document is inlined, with this deployment as its server and the webhooks.
    assert "Redoc.init(" in html
    assert f'"servers":[{{"url":"{api_url}"' in html
    assert '"webhooks":' in html

    bundle = await anonymous.get(f"/docs/static/{REDOC_BUNDLE}")
    assert bundle.status_code == 200
    assert "javascript" in bundle.headers["content-type"]
    assert hashlib.sha256(bundle.content).hexdigest() == REDOC_SHA256
    assert "max-age=31536000" in bundle.headers["cache-control"]


async def test_the_error_page_has_every_code(anonymous: httpx.AsyncClient) -> None:
    page = await anonymous.get("/docs/errors")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for code, entry in CATALOGUE.items():
        assert f'<tr id="{code}">' in page.text, code
        if not entry.ours:
            assert f'href="https://www.twilio.com/docs/api/errors/{code}"' in page.text
    # Where the document says each code is answered.
    row = re.search(r'<tr id="20404">.*?</tr>', page.text)
    assert row is not None
    assert 'href="/docs#operation/FetchMessage"' in row.group(0)


async def test_info_url_of_our_own_codes_leads_to_the_error_page(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, api_url: str
) -> None:
    refused = await client.get("/v1/Messages", params={"pageToken": "not-a-token"})
    assert refused.status_code == 400
    [error] = refused.json()["errors"]
    assert error["code"] == 90002
    assert error["infoUrl"] == f"{api_url}/docs/errors#90002"
    page = await anonymous.get(httpx.URL(error["infoUrl"]).path)
    assert '<tr id="90002">' in page.text
    # Twilio's codes keep linking to Twilio.
    missing = await client.get("/v1/Messages/comms_message_01m8h0jzqtf5v9w3b8m2n6k4x1")
    assert missing.json()["errors"][0]["infoUrl"] == (
        "https://www.twilio.com/docs/api/errors/20404"
    )
