// A streamed Code Interpreter run that draws an image: the code shows as the model writes it, the
// outputs arrive as indexed deltas, and the answer leads with the image.
import assert from "node:assert/strict";
import { test } from "node:test";
import { assistantWith, client, record, userSays } from "./helpers.mjs";

const CODE = [
  "import matplotlib.pyplot as plt",
  'plt.plot([1, 4, 2]); plt.title("caf\u00e9 \u{1F600}"); plt.show()',
  'print("drawn")',
].join("\n");

test("a streamed code run shows its code, its logs and its image", async () => {
  const assistant = await assistantWith([{ type: "code_interpreter" }]);
  const events = await record(
    client.beta.threads.createAndRunStream({ assistant_id: assistant.id, thread: userSays(`run: ${CODE}`) }),
  );
  assert.equal(events.run.status, "completed", JSON.stringify(events.run.last_error));
  assert.deepEqual(events.names(), [
    "runStepCreated",
    "toolCallCreated",
    "toolCallDelta",
    "toolCallDone",
    "runStepDone",
    "runStepCreated",
    "messageCreated",
    "textCreated",
    "textDelta",
    "imageFileDone",
    "textDelta",
    "textDone",
    "messageDone",
    "runStepDone",
  ]);
  const [[toolStep]] = events.args("runStepCreated");
  assert.equal(toolStep.type, "tool_calls");
  assert.deepEqual(toolStep.step_details.tool_calls, []);
  const [[created]] = events.args("toolCallCreated");
  assert.equal(created.type, "code_interpreter");
  assert.deepEqual(created.code_interpreter, { input: "", outputs: [] });

  const deltas = events.args("toolCallDelta").map(([delta]) => delta);
  for (const delta of deltas) {
    assert.equal(delta.index, 0);
    assert.equal(delta.type, "code_interpreter");
    assert.equal(delta.id, undefined); // only the first delta names the call
  }
  const inputs = deltas.filter((d) => d.code_interpreter.input !== undefined);
  assert.ok(inputs.length >= 5, `code streamed in pieces, got ${inputs.length}`);
  assert.equal(inputs.map((d) => d.code_interpreter.input).join(""), CODE);
  const [outputs] = deltas.filter((d) => d.code_interpreter.outputs).map((d) => d.code_interpreter.outputs);
  assert.deepEqual(
    outputs.map((o) => [o.index, o.type]),
    [
      [0, "logs"],
      [1, "image"],
    ],
  );
  assert.match(outputs[0].logs, /drawn/);
  const imageId = outputs[1].image.file_id;

  const [[done]] = events.args("toolCallDone");
  assert.equal(done.id, created.id);
  assert.equal(done.code_interpreter.input, CODE);
  assert.deepEqual(
    done.code_interpreter.outputs.map((o) => o.type),
    ["logs", "image"],
  );
  const [[toolStepDone, toolSnapshot]] = events.args("runStepDone").slice(0, 1);
  assert.equal(toolStepDone.status, "completed");
  assert.equal(toolStepDone.step_details.tool_calls[0].code_interpreter.input, CODE);
  assert.equal(toolSnapshot.step_details.tool_calls[0].code_interpreter.input, CODE);

  assert.deepEqual(events.args("imageFileDone")[0][0], { file_id: imageId, detail: "auto" });
  const [[message]] = events.args("messageDone");
  assert.deepEqual(
    message.content.map((part) => part.type),
    ["image_file", "text"],
  );
  assert.equal(message.content[0].image_file.file_id, imageId);
  const text = events.args("textDelta").map(([delta]) => delta.value).join("");
  assert.equal(text, message.content[1].text.value);
  assert.match(text, /^Tool said: drawn/);
  const png = Buffer.from(await (await client.files.content(imageId)).arrayBuffer());
  assert.equal(png.subarray(1, 4).toString(), "PNG");
});
