// A streamed File Search run: the search call is introduced by one delta and the citation marker
// reaches the client whole, in the delta that carries its annotation.
import assert from "node:assert/strict";
import { test } from "node:test";
import { toFile } from "openai";
import { TEXT_ANSWER, assistantWith, client, record, userSays } from "./helpers.mjs";

const FILES = {
  "handbook.txt": "Operations handbook. The launch code for project Zephyr is AZURE-7741. Keep it secret.",
  "menu.txt": "Cafeteria menu. Monday: lentil soup. Tuesday: grilled fish. Wednesday: pasta.",
};

async function handbookStore() {
  const ids = {};
  for (const [name, body] of Object.entries(FILES)) {
    const file = await toFile(Buffer.from(body), name);
    ids[name] = (await client.files.create({ file, purpose: "assistants" })).id;
  }
  const store = await client.vectorStores.create({ name: "node docs", file_ids: Object.values(ids) });
  const deadline = Date.now() + 120_000;
  while ((await client.vectorStores.retrieve(store.id)).file_counts.completed < Object.keys(FILES).length) {
    assert.ok(Date.now() < deadline, "the files were not indexed in time");
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  return { store, ids };
}

test("a streamed file search cites its source as the text streams", async () => {
  const { store, ids } = await handbookStore();
  const assistant = await assistantWith([{ type: "file_search" }], {
    tool_resources: { file_search: { vector_store_ids: [store.id] } },
  });
  const thread = await client.beta.threads.create(userSays("search: launch code for project Zephyr"));
  const events = await record(client.beta.threads.runs.stream(thread.id, { assistant_id: assistant.id }));
  assert.equal(events.run.status, "completed", JSON.stringify(events.run.last_error));
  const search = ["runStepCreated", "toolCallCreated", "toolCallDone", "runStepDone"];
  assert.deepEqual(events.names(), [...search, ...TEXT_ANSWER]);
  const [[created]] = events.args("toolCallCreated");
  assert.equal(created.type, "file_search");
  assert.deepEqual(created.file_search, {});
  const [[searchStep]] = events.args("runStepDone");
  const [result] = searchStep.step_details.tool_calls[0].file_search.results;
  assert.equal(result.file_id, ids["handbook.txt"]);
  assert.equal(result.file_name, "handbook.txt");

  const deltas = events.args("textDelta").map(([delta]) => delta);
  const value = deltas.map((d) => d.value).join("");
  const cited = deltas.filter((d) => d.annotations.length);
  assert.ok(cited.length >= 1, "some delta carries a citation");
  const notes = [];
  for (const delta of cited) {
    for (const note of delta.annotations) {
      assert.ok(delta.value.includes(note.text), "the marker arrives whole with its annotation");
      assert.equal(note.index, notes.length);
      assert.equal(value.slice(note.start_index, note.end_index), note.text);
      notes.push(note);
    }
  }
  const [first] = notes;
  assert.equal(first.type, "file_citation");
  assert.match(first.text, /^【0:0†handbook\.txt】$/);
  assert.equal(first.file_citation.file_id, ids["handbook.txt"]);
  for (const delta of deltas.filter((d) => !d.annotations.length)) {
    assert.ok(!/【\d+:\d+†[^】]*】/.test(delta.value), "no unannotated marker");
  }
  const [[text]] = events.args("textDone");
  assert.equal(text.value, value);
  assert.deepEqual(
    text.annotations,
    notes.map(({ index, ...note }) => note),
  );
});
