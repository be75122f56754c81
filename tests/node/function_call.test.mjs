// A function call streamed by the model, answered through submitToolOutputsStream.
import assert from "node:assert/strict";
import { test } from "node:test";
import { TEXT_ANSWER, assistantWith, client, record, userSays } from "./helpers.mjs";

const WEATHER = {
  type: "function",
  function: {
    name: "get_weather",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

test("a function call streams, waits for its output, then the answer streams", async () => {
  const assistant = await assistantWith([WEATHER]);
  const args = '{"city": "Paris"}';
  const first = await record(
    client.beta.threads.createAndRunStream({
      assistant_id: assistant.id,
      thread: userSays(`call: get_weather ${args}`),
    }),
  );
  const run = first.run;
  assert.equal(run.status, "requires_action");
  assert.deepEqual(first.names(), ["runStepCreated", "toolCallCreated", "toolCallDelta", "toolCallDone"]);
  const [[step]] = first.args("runStepCreated");
  assert.equal(step.type, "tool_calls");
  assert.deepEqual(step.step_details.tool_calls, []);

  const [call] = run.required_action.submit_tool_outputs.tool_calls;
  const [[created]] = first.args("toolCallCreated");
  assert.equal(created.id, call.id);
  assert.equal(created.type, "function");
  assert.deepEqual(created.function, { name: "get_weather", arguments: "", output: null });
  const deltas = first.args("toolCallDelta");
  assert.ok(deltas.length >= 2, `arguments streamed in pieces, got ${deltas.length}`);
  for (const [delta] of deltas) {
    assert.deepEqual(Object.keys(delta).sort(), ["function", "index", "type"]);
    assert.equal(delta.index, 0);
  }
  assert.equal(deltas.map(([delta]) => delta.function.arguments).join(""), args);
  const [[done]] = first.args("toolCallDone");
  assert.equal(done.id, call.id);
  assert.equal(done.function.arguments, args);
  assert.equal(call.function.arguments, args);

  const second = await record(
    client.beta.threads.runs.submitToolOutputsStream(run.id, {
      thread_id: run.thread_id,
      tool_outputs: [{ tool_call_id: call.id, output: "sunny" }],
    }),
  );
  assert.equal(second.run.status, "completed");
  assert.deepEqual(second.names(), ["runStepDone", ...TEXT_ANSWER]);
  const [[toolStep], [messageStep]] = second.args("runStepDone");
  assert.equal(toolStep.id, step.id);
  assert.equal(toolStep.status, "completed");
  assert.equal(toolStep.step_details.tool_calls[0].function.output, "sunny");
  assert.equal(messageStep.type, "message_creation");
  const answer = second.args("textDelta").map(([delta]) => delta.value).join("");
  assert.equal(answer, "Tool said: sunny");
  assert.equal(second.args("textDone")[0][0].value, answer);
});
