// Containers and the code interpreter through the Node SDK: a container with an uploaded file, a
// streamed response whose code reads it and writes a file, the code interpreter events of the
// ResponseStream helper, and the written file listed and downloaded as a container file.
import assert from "node:assert/strict";
import { test } from "node:test";
import { toFile } from "openai";
import { client } from "./helpers.mjs";

test("code in a container reads an upload and writes a file the client downloads", async () => {
  const container = await client.containers.create({ name: "node" });
  assert.match(container.id, /^cntr_/);
  assert.equal(container.status, "running");
  const upload = await client.containers.files.create(container.id, {
    file: await toFile(Buffer.from("a,b\n1,2\n"), "pairs.csv"),
  });
  assert.equal(upload.path, "/mnt/data/pairs.csv");
  assert.equal(upload.source, "user");

  const code = "rows = open('/mnt/data/pairs.csv').read().split(); open('/mnt/data/out.txt', 'w').write(rows[1]); print(len(rows))";
  const stream = client.responses.stream({
    model: "scripted-model",
    input: `run: ${code}`,
    tools: [{ type: "code_interpreter", container: container.id }],
    include: ["code_interpreter_call.outputs"],
  });
  const events = [];
  for await (const event of stream) events.push(event);
  const final = await stream.finalResponse();
  const calls = events.map((e) => e.type).filter((t) => t.includes("code_interpreter"));
  assert.equal(calls[0], "response.code_interpreter_call.in_progress");
  assert.deepEqual(calls.slice(-3), [
    "response.code_interpreter_call_code.done",
    "response.code_interpreter_call.interpreting",
    "response.code_interpreter_call.completed",
  ]);
  const code_pieces = events.filter((e) => e.type === "response.code_interpreter_call_code.delta");
  assert.equal(code_pieces.map((e) => e.delta).join(""), code);
  const [call] = final.output;
  assert.equal(call.type, "code_interpreter_call");
  assert.equal(call.container_id, container.id);
  assert.equal(call.outputs[0].logs.trim(), "2");

  const files = [];
  for await (const file of client.containers.files.list(container.id)) files.push(file);
  const written = files.find((f) => f.path === "/mnt/data/out.txt");
  assert.equal(written.source, "assistant");
  const content = await client.containers.files.content.retrieve(written.id, { container_id: container.id });
  assert.equal(await content.text(), "1,2");

  await client.containers.delete(container.id);
  await assert.rejects(client.containers.retrieve(container.id), (err) => err.status === 404);
});
