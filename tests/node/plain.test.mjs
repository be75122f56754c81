// A streamed plain answer, as OpenAI's Assistants quickstart consumes it: textCreated opens the
// assistant's bubble, textDelta fills it (the answer no longer runs into the user's bubble).
import assert from "node:assert/strict";
import { test } from "node:test";
import { TEXT_ANSWER, assistantWith, client, record, userSays } from "./helpers.mjs";

test("a streamed plain answer fires the helper events in OpenAI's order", async () => {
  const assistant = await assistantWith([]);
  const thread = await client.beta.threads.create(userSays("hello there"));
  const events = await record(client.beta.threads.runs.stream(thread.id, { assistant_id: assistant.id }));

  assert.equal(events.run.status, "completed");
  assert.deepEqual(events.names(), TEXT_ANSWER);
  const [[step]] = events.args("runStepCreated");
  const [[message]] = events.args("messageCreated");
  assert.equal(step.type, "message_creation");
  assert.equal(step.step_details.message_creation.message_id, message.id);
  assert.deepEqual(message.content, []);
  assert.equal(message.status, "in_progress");

  const answer = "You said: hello there";
  const [[created]] = events.args("textCreated");
  const deltas = events.args("textDelta");
  assert.ok(deltas.length >= 3, `streamed in pieces, got ${deltas.length}`);
  assert.equal(created.value, deltas[0][0].value); // created by its first delta
  assert.equal(deltas.map(([delta]) => delta.value).join(""), answer);
  deltas.forEach(([, snapshot], i) =>
    assert.equal(snapshot.value, deltas.slice(0, i + 1).map(([delta]) => delta.value).join("")),
  );
  assert.equal(events.args("messageDelta").length, deltas.length);
  for (const [delta] of events.args("messageDelta")) {
    assert.deepEqual(
      delta.content.map((part) => [part.index, part.type]),
      [[0, "text"]],
    );
  }
  const [[text, textMessage]] = events.args("textDone");
  assert.deepEqual(text, { value: answer, annotations: [] });
  assert.equal(textMessage.id, message.id);
  const [[done]] = events.args("messageDone");
  assert.equal(done.id, message.id);
  assert.equal(done.status, "completed");
  assert.deepEqual(done.content, [{ type: "text", text: { value: answer, annotations: [] } }]);
  const [[stepDone]] = events.args("runStepDone");
  assert.equal(stepDone.id, step.id);
  assert.equal(stepDone.status, "completed");
  assert.ok(stepDone.usage.total_tokens > 0);
});
