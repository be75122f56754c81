// Shared by the Node SDK tests: a client for the assistd that test_node_sdk.py started, and a log
// of every helper event an AssistantStream fires.
import { File } from "node:buffer";
import OpenAI from "openai";

// Node 18 (Debian bookworm's nodejs) has no global File; the SDK needs one for uploads.
globalThis.File ??= File;

export const client = new OpenAI({
  baseURL: process.env.ASSISTD_BASE_URL,
  apiKey: "unused",
  maxRetries: 0,
  timeout: 600_000,
});

export const HELPER_EVENTS = [
  "runStepCreated",
  "runStepDelta",
  "runStepDone",
  "toolCallCreated",
  "toolCallDelta",
  "toolCallDone",
  "messageCreated",
  "messageDelta",
  "messageDone",
  "textCreated",
  "textDelta",
  "textDone",
  "imageFileDone",
];

// The helper events of an answer streamed as text, from its step's creation to its step's end.
export const TEXT_ANSWER = [
  "runStepCreated",
  "messageCreated",
  "textCreated",
  "textDelta",
  "textDone",
  "messageDone",
  "runStepDone",
];

/** Drain `stream`, noting each helper event with its arguments as they were when it fired. */
export async function record(stream) {
  const log = [];
  for (const name of HELPER_EVENTS) {
    stream.on(name, (...args) => log.push([name, structuredClone(args)]));
  }
  const run = await stream.finalRun();
  return {
    run,
    log,
    /** Event names in order but the hidden ones, a run of the same delta event once. */
    names(hide = ["messageDelta", "runStepDelta"]) {
      const out = [];
      for (const [name] of log) {
        if (hide.includes(name)) continue;
        if (name.endsWith("Delta") && out.at(-1) === name) continue;
        out.push(name);
      }
      return out;
    },
    /** The argument lists of every `name` event. */
    args(name) {
      return log.filter(([called]) => called === name).map(([, args]) => args);
    },
  };
}

export async function assistantWith(tools, extra = {}) {
  return client.beta.assistants.create({ model: "scripted-model", tools, ...extra });
}

export function userSays(content) {
  return { messages: [{ role: "user", content }] };
}
