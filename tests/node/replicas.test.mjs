// Two processes of one deployment on PostgreSQL: ASSISTD_BASE_URL serves the API only (another
// process drives its runs), ASSISTD_OTHER_BASE_URL is that other process. A run streamed from the
// first is cancelled through the second.
import assert from "node:assert/strict";
import { test } from "node:test";
import OpenAI from "openai";
import { assistantWith, client, record, userSays } from "./helpers.mjs";

const other = new OpenAI({ baseURL: process.env.ASSISTD_OTHER_BASE_URL, apiKey: "unused", maxRetries: 0 });

test("a run streamed from one replica and cancelled through another ends cancelled", async () => {
  const assistant = await assistantWith([]);
  const thread = await client.beta.threads.create(userSays("slow 30"));
  const stream = client.beta.threads.runs.stream(thread.id, { assistant_id: assistant.id });
  let cancelling = null;
  stream.on("textDelta", () => {
    cancelling ??= other.beta.threads.runs.cancel(stream.currentRun().id, { thread_id: thread.id });
  });
  const events = await record(stream);

  assert.equal(events.run.status, "cancelled");
  assert.ok(["cancelling", "cancelled"].includes((await cancelling).status));
  assert.deepEqual(events.names().slice(0, 3), ["runStepCreated", "messageCreated", "textCreated"]);
  const said = events.args("textDelta").map(([delta]) => delta.value).join("");
  assert.ok(said.startsWith("word"), said);

  const [message] = (await other.beta.threads.messages.list(thread.id, { run_id: events.run.id })).data;
  assert.equal(message.status, "incomplete");
  assert.equal(message.incomplete_details.reason, "run_cancelled");
  assert.ok(message.content[0].text.value.startsWith(said), "the message keeps what was streamed");
  const [step] = (await other.beta.threads.runs.steps.list(events.run.id, { thread_id: thread.id })).data;
  assert.equal(step.status, "cancelled");
});
