// A product team's code on the TypeScript client generated from openapi/openapi.json
// (openapi-typescript types + openapi-fetch): send, follow the operation to COMPLETED, page
// through its messages, handle a 404, replay an idempotent send.
//
// tests/e2e/test_typescript_client.py generates generated/schema.d.ts, compiles this file with
// `tsc --strict` and runs it against the real stack; it prints what it saw as one JSON line.
// By hand: npm ci && npm run generate && npm run build &&
//          COMMS_URL=… COMMS_ACCOUNT_SID=… COMMS_AUTH_TOKEN=… npm run flow
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";

import createClient from "openapi-fetch";

import type { components, paths } from "./generated/schema.js";

type ErrorBody = components["schemas"]["ErrorBody"];
type SendMessagesRequest = components["schemas"]["SendMessagesRequest"];
type MessageStatus = components["schemas"]["MessageStatus"];

/** An error answer of the API, with its error body. */
class CommsError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
  ) {
    super(`${status}: ${body.errors[0]?.message}`);
  }
}

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const credentials = `${env("COMMS_ACCOUNT_SID")}:${env("COMMS_AUTH_TOKEN")}`;
const client = createClient<paths>({
  baseUrl: env("COMMS_URL"),
  headers: { Authorization: `Basic ${Buffer.from(credentials).toString("base64")}` },
});

function welcome(names: Record<string, string>): SendMessagesRequest {
  return {
    to: Object.entries(names).map(([address, name]) => ({
      address,
      channel: "PHONE",
      variables: { name },
    })),
    content: { text: "Hello {{ name }}, welcome aboard!" },
    from: { address: "+15017122661", channel: "SMS" },
  };
}

async function main(): Promise<Record<string, unknown>> {
  const seen: Record<string, unknown> = {};

  // Send to three people.
  const body = welcome({ "+15558675310": "Ada", "+15558675311": "Grace", "+15558675312": "Alan" });
  const { data, error, response } = await client.POST("/v1/Messages", { body });
  if (error) throw new CommsError(response.status, error);
  const operationId = data.operationId;
  seen.operationId = operationId;

  // Follow the operation until every message is handed to the provider.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { data, error, response } = await client.GET("/v1/Messages/Operations/{operationId}", {
      params: { path: { operationId } },
    });
    if (error) throw new CommsError(response.status, error);
    if (data.status === "COMPLETED") {
      seen.total = data.stats.total;
      break;
    }
    if (Date.now() > deadline) throw new Error(`operation still ${data.status}`);
    await sleep(200);
  }

  // Page through its messages, two at a time.
  const messages: string[] = [];
  const statuses = new Set<MessageStatus>();
  let pageToken: string | undefined;
  let pages = 0;
  for (;;) {
    const { data, error, response } = await client.GET("/v1/Messages", {
      params: { query: { operationId, pageSize: 2, pageToken } },
    });
    if (error) throw new CommsError(response.status, error);
    pages += 1;
    for (const message of data.messages) {
      messages.push(message.id);
      statuses.add(message.status);
    }
    if (data.pagination.next === null) break;
    pageToken = data.pagination.next;
  }
  seen.messages = messages.length;
  seen.pages = pages;
  seen.statuses = [...statuses].sort();

  // One of them in full: its rendered text.
  const first = await client.GET("/v1/Messages/{messageId}", {
    params: { path: { messageId: messages[0] ?? "" } },
  });
  if (first.error) throw new CommsError(first.response.status, first.error);
  seen.text = first.data.content?.text ?? null;

  // A message that does not exist: a 404 with the error body.
  const missing = await client.GET("/v1/Messages/{messageId}", {
    params: { path: { messageId: "comms_message_01m8h0jzqtf5v9w3b8m2n6k4x1" } },
  });
  if (missing.error) seen.notFound = [missing.response.status, missing.error.errors[0]?.code];

  // The same send twice with one Idempotency-Key: the second replays the first.
  const key = `welcome-${randomUUID()}`;
  const keyed = { body, params: { header: { "Idempotency-Key": key } } };
  const once = await client.POST("/v1/Messages", keyed);
  if (once.error) throw new CommsError(once.response.status, once.error);
  const again = await client.POST("/v1/Messages", keyed);
  if (again.error) throw new CommsError(again.response.status, again.error);
  seen.replayed = again.response.headers.get("Idempotent-Replayed") === "true";
  seen.sameOperation = again.data.operationId === once.data.operationId;
  return seen;
}

console.log(JSON.stringify(await main()));
