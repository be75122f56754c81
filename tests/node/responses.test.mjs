// Responses through the Node SDK's ResponseStream helper: a streamed answer, and a function call
// answered in a second response chained with previous_response_id.
import assert from "node:assert/strict";
import { test } from "node:test";
import { client } from "./helpers.mjs";

const WEATHER = {
  type: "function",
  name: "get_weather",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  strict: false,
};

async function streamed(body) {
  const stream = client.responses.stream({ model: "scripted-model", ...body });
  const events = [];
  for await (const event of stream) events.push(event);
  return { events, final: await stream.finalResponse() };
}

test("an answer streams with numbered events and a final response", async () => {
  const { events, final } = await streamed({ input: "hello node" });
  assert.deepEqual(
    events.map((e) => e.sequence_number),
    events.map((_, i) => i),
  );
  assert.deepEqual(
    events.map((e) => e.type).filter((t) => t !== "response.output_text.delta"),
    [
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ],
  );
  const text = events.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta);
  assert.equal(text.join(""), "You said: hello node");
  assert.equal(final.status, "completed");
  assert.equal(final.output_text, "You said: hello node");
  assert.equal((await client.responses.retrieve(final.id)).output[0].content[0].text, final.output_text);
});

test("a function call streams its arguments; its output continues in a new response", async () => {
  const args = '{"city": "Paris"}';
  const { events, final } = await streamed({ input: `call: get_weather ${args}`, tools: [WEATHER] });
  const [call] = final.output;
  assert.equal(call.type, "function_call");
  assert.equal(call.arguments, args);
  const pieces = events.filter((e) => e.type === "response.function_call_arguments.delta");
  assert.ok(pieces.length >= 2);
  assert.equal(pieces.map((e) => e.delta).join(""), args);
  const answer = await client.responses.create({
    model: "scripted-model",
    previous_response_id: final.id,
    tools: [WEATHER],
    input: [{ type: "function_call_output", call_id: call.call_id, output: "sunny" }],
  });
  assert.equal(answer.output_text, "Tool said: sunny");
});
