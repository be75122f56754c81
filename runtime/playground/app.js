// assistd playground: manages assistants and chats on threads through the public /v1 API only.
// Plain browser JavaScript, no build step, nothing loaded from elsewhere.
"use strict";

const KEY_STORE = "assistd.apiKey";
const THREADS_STORE = "assistd.threads";
const CURRENT_STORE = "assistd.current";
const SEARCH_CONTENT = "step_details.tool_calls[*].file_search.results[*].content";
const RUN_ACTIVE = new Set(["queued", "in_progress", "requires_action", "cancelling"]);

const $ = (id) => document.getElementById(id);

const state = {
  assistants: [],
  assistant: null,          // the assistant being edited and chatted with
  codeFiles: [],            // file ids for code_interpreter in the editor
  searchFiles: [],          // file ids for file_search in the editor
  searchFilesSaved: "",     // what the assistant's vector store held when loaded
  vectorStoreIds: [],
  threadId: null,
  run: null,                // the run being streamed or waited on
  busy: false,
  views: new Map(),         // message / step id -> {data, node}
};

// ---------------------------------------------------------------- helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function setStatus(text) {
  $("status").textContent = text || "";
}

function showError(context, err) {
  const message = err instanceof Error ? err.message : String(err);
  console.warn(context, err);
  const box = $("errors");
  const item = el("div", { class: "error" },
    el("p", {}, el("strong", {}, `${context}: `), message),
    el("button", { type: "button", class: "secondary", "aria-label": "Dismiss error",
                   onclick: () => item.remove() }, "Dismiss"));
  box.append(item);
  while (box.children.length > 4) box.firstElementChild.remove();
}

function clearErrors() {
  $("errors").replaceChildren();
}

function when(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" }) : "";
}

function basename(name) {
  return String(name || "").split("/").pop();
}

// ---------------------------------------------------------------- API

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

function apiKey() {
  return localStorage.getItem(KEY_STORE) || "";
}

async function errorMessage(res) {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text);
    if (body && body.error) {
      const e = body.error;
      return typeof e === "string" ? e : (e.message || JSON.stringify(e));
    }
  } catch { /* not JSON */ }
  return text.trim().slice(0, 300) || `HTTP ${res.status} ${res.statusText}`;
}

// fetch /v1<path>; asks for the API key on 401 and retries; throws ApiError with the API's message.
async function api(path, { method = "GET", json, form, raw = false } = {}) {
  const headers = { "OpenAI-Beta": "assistants=v2" };
  const key = apiKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  let res;
  try {
    res = await fetch(`/v1${path}`, { method, headers, body });
  } catch (err) {
    throw new ApiError(`Could not reach the server (${err.message}).`, 0);
  }
  if (res.status === 401) {
    const message = await errorMessage(res);
    if (await askForKey(message)) return api(path, { method, json, form, raw });
    throw new ApiError(message, 401);
  }
  if (!res.ok) throw new ApiError(await errorMessage(res), res.status);
  return raw ? res : res.json();
}

async function listAll(path) {
  const out = [];
  let after = null;
  for (let i = 0; i < 50; i++) {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api(after ? `${path}${sep}after=${encodeURIComponent(after)}` : path);
    out.push(...page.data);
    if (!page.has_more || !page.data.length) break;
    after = page.last_id || page.data[page.data.length - 1].id;
  }
  return out;
}

// Server-sent events from a fetch response: yields {event, data} with data parsed as JSON when it is.
async function* sseEvents(res) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  const parse = (block) => {
    let event = "message";
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (!data.length && event === "message") return null;
    const text = data.join("\n");
    let parsed = text;
    try { parsed = JSON.parse(text); } catch { /* [DONE] and other plain text */ }
    return { event, data: parsed };
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let match;
    while ((match = /\r?\n\r?\n/.exec(buffer))) {
      const block = buffer.slice(0, match.index);
      buffer = buffer.slice(match.index + match[0].length);
      const item = parse(block);
      if (item) yield item;
    }
  }
  buffer += decoder.decode();
  if (buffer.trim()) {
    const item = parse(buffer);
    if (item) yield item;
  }
}

// ---------------------------------------------------------------- API key

let keyPrompt = null;

function askForKey(reason) {
  if (keyPrompt) return keyPrompt;
  const dialog = $("key-dialog");
  const input = $("key-input");
  keyPrompt = new Promise((resolve) => {
    $("key-reason").textContent = reason || "Enter the API key this server was started with (ASSISTD_API_KEY).";
    input.value = apiKey();
    dialog.returnValue = "";
    dialog.addEventListener("close", () => {
      keyPrompt = null;
      const choice = dialog.returnValue;
      if (choice === "save" && input.value.trim()) {
        localStorage.setItem(KEY_STORE, input.value.trim());
        resolve(true);
      } else {
        if (choice === "clear") localStorage.removeItem(KEY_STORE);
        resolve(false);
      }
    }, { once: true });
    dialog.showModal();
    input.focus();
  });
  return keyPrompt;
}

// ---------------------------------------------------------------- files

const fileInfos = new Map();
const fileBlobs = new Map();

function fileInfo(fileId) {
  if (!fileInfos.has(fileId)) {
    fileInfos.set(fileId, api(`/files/${encodeURIComponent(fileId)}`).catch(() => ({ id: fileId, filename: fileId })));
  }
  return fileInfos.get(fileId);
}

const MIME = { png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", gif: "image/gif", svg: "image/svg+xml",
               webp: "image/webp", csv: "text/csv", txt: "text/plain", json: "application/json", pdf: "application/pdf" };

function fileBlobUrl(fileId, fallbackType = "application/octet-stream") {
  if (!fileBlobs.has(fileId)) {
    const load = (async () => {
      const [res, info] = await Promise.all([api(`/files/${encodeURIComponent(fileId)}/content`, { raw: true }),
                                             fileInfo(fileId)]);
      const ext = basename(info.filename).split(".").pop().toLowerCase();
      const blob = await res.blob();
      return URL.createObjectURL(new Blob([blob], { type: MIME[ext] || fallbackType }));
    })();
    load.catch(() => fileBlobs.delete(fileId));
    fileBlobs.set(fileId, load);
  }
  return fileBlobs.get(fileId);
}

async function uploadFile(file) {
  const form = new FormData();
  form.append("purpose", "assistants");
  form.append("file", file, file.name);
  const obj = await api("/files", { method: "POST", form });
  fileInfos.set(obj.id, Promise.resolve(obj));
  return obj;
}

// A link that downloads a stored file through the API (with the auth header) as a blob.
function downloadLink(fileId, label) {
  const link = el("a", { href: "#", class: "download", "data-file-id": fileId }, label || fileId);
  fileInfo(fileId).then((info) => {
    if (!label) link.textContent = basename(info.filename);
    link.download = basename(info.filename);
    link.title = `Download ${basename(info.filename)}`;
  });
  link.addEventListener("click", async (event) => {
    if (link.dataset.ready) return;
    event.preventDefault();
    try {
      link.href = await fileBlobUrl(fileId);
      link.dataset.ready = "1";
      link.click();
    } catch (err) {
      showError("Could not download the file", err);
    }
  });
  return link;
}

function imageFigure(fileId, what = "Image") {
  const img = el("img", { alt: `${what} (loading)`, "data-file-id": fileId, onload: () => scrollChat() });
  fileBlobUrl(fileId, "image/png").then((url) => { img.src = url; }).catch((err) => {
    img.alt = `${what} could not be loaded: ${err.message}`;
  });
  fileInfo(fileId).then((info) => { img.alt = `${what}: ${basename(info.filename)}`; });
  return el("figure", { class: "image" }, img, el("figcaption", {}, downloadLink(fileId)));
}

// ---------------------------------------------------------------- models and assistants

async function loadModels() {
  const select = $("a-model");
  try {
    const models = await api("/models");
    const current = select.value;
    select.replaceChildren(...models.data.map((m) => el("option", { value: m.id }, m.id)));
    if (current) ensureModelOption(current);
    if (!models.data.length) showError("Models", "The model endpoint lists no models.");
  } catch (err) {
    showError("Could not list models", err);
  }
}

function ensureModelOption(model) {
  const select = $("a-model");
  if (model && ![...select.options].some((o) => o.value === model)) {
    select.append(el("option", { value: model }, model));
  }
  if (model) select.value = model;
}

async function loadAssistants() {
  try {
    state.assistants = await listAll("/assistants?limit=100&order=desc");
  } catch (err) {
    showError("Could not list assistants", err);
    return;
  }
  renderAssistants();
}

function renderAssistants() {
  const list = $("assistant-list");
  if (!state.assistants.length) {
    list.replaceChildren(el("li", { class: "empty" }, "No assistants yet."));
    return;
  }
  list.replaceChildren(...state.assistants.map((a) => el("li", {},
    el("button", {
      type: "button", class: "item", "data-assistant-id": a.id,
      "aria-current": state.assistant && state.assistant.id === a.id ? "true" : null,
      onclick: () => selectAssistant(a),
    }, el("span", { class: "item-title" }, a.name || "(unnamed)"), el("span", { class: "item-sub" }, a.model)))));
}

function updateChatContext() {
  const who = state.assistant ? `Chatting with ${state.assistant.name || state.assistant.id}` : "Pick or create an assistant to chat with";
  const thread = state.threadId ? (threads().find((t) => t.id === state.threadId) || {}).title || state.threadId : "new thread";
  $("chat-context").textContent = `${who} · ${thread}`;
}

function remember() {
  localStorage.setItem(CURRENT_STORE, JSON.stringify({
    assistant: state.assistant && state.assistant.id, thread: state.threadId,
  }));
}

async function selectAssistant(assistant) {
  state.assistant = assistant;
  $("editor-heading").textContent = `Edit ${assistant.name || "assistant"}`;
  $("a-save").textContent = "Save changes";
  $("a-delete").hidden = false;
  $("a-name").value = assistant.name || "";
  ensureModelOption(assistant.model);
  $("a-instructions").value = assistant.instructions || "";
  const tools = assistant.tools || [];
  $("a-code").checked = tools.some((t) => t.type === "code_interpreter");
  $("a-search").checked = tools.some((t) => t.type === "file_search");
  const fns = tools.filter((t) => t.type === "function").map((t) => t.function);
  $("a-functions").value = fns.length ? JSON.stringify(fns, null, 2) : "";
  const resources = assistant.tool_resources || {};
  state.codeFiles = [...((resources.code_interpreter || {}).file_ids || [])];
  state.vectorStoreIds = [...((resources.file_search || {}).vector_store_ids || [])];
  state.searchFiles = [];
  $("a-search-status").textContent = "";
  renderAssistants();
  renderFileLists();
  updateChatContext();
  remember();
  for (const storeId of state.vectorStoreIds) {
    try {
      const files = await listAll(`/vector_stores/${encodeURIComponent(storeId)}/files?limit=100`);
      if (state.assistant !== assistant) return;
      state.searchFiles.push(...files.map((f) => f.id));
      const pending = files.filter((f) => f.status === "in_progress").length;
      if (pending) watchVectorStore(storeId);
    } catch (err) {
      showError(`Could not list the files of vector store ${storeId}`, err);
    }
  }
  state.searchFilesSaved = state.searchFiles.join(",");
  renderFileLists();
}

function newAssistant() {
  state.assistant = null;
  $("assistant-form").reset();
  $("editor-heading").textContent = "New assistant";
  $("a-save").textContent = "Create assistant";
  $("a-delete").hidden = true;
  state.codeFiles = [];
  state.searchFiles = [];
  state.searchFilesSaved = "";
  state.vectorStoreIds = [];
  $("a-search-status").textContent = "";
  renderAssistants();
  renderFileLists();
  updateChatContext();
  $("a-name").focus();
}

function renderFileLists() {
  const render = (list, ids, what) => {
    list.replaceChildren(...ids.map((id) => {
      const name = el("span", {}, id);
      const remove = el("button", {
        type: "button", class: "secondary small", "aria-label": `Remove ${id} from the ${what}`,
        onclick: () => {
          const at = ids.indexOf(id);
          if (at >= 0) ids.splice(at, 1);
          renderFileLists();
        },
      }, "Remove");
      fileInfo(id).then((info) => {
        name.textContent = basename(info.filename);
        remove.setAttribute("aria-label", `Remove ${basename(info.filename)} from the ${what}`);
      });
      return el("li", { "data-file-id": id }, name, remove);
    }));
    if (!ids.length) list.append(el("li", { class: "empty" }, "No files."));
  };
  render($("a-code-files"), state.codeFiles, "code interpreter files");
  render($("a-search-files"), state.searchFiles, "file search files");
}

async function addEditorFiles(input, ids) {
  const files = [...input.files];
  input.value = "";
  for (const file of files) {
    setStatus(`Uploading ${file.name}…`);
    try {
      ids.push((await uploadFile(file)).id);
    } catch (err) {
      showError(`Could not upload ${file.name}`, err);
    }
  }
  setStatus("");
  renderFileLists();
}

function parseFunctions(text) {
  if (!text.trim()) return [];
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`Functions are not valid JSON: ${err.message}`);
  }
  const items = Array.isArray(parsed) ? parsed : [parsed];
  return items.map((item, i) => {
    const fn = item && item.type === "function" && item.function ? item.function : item;
    if (!fn || typeof fn !== "object" || typeof fn.name !== "string") {
      throw new Error(`Function ${i + 1} needs a "name" (and usually "description" and "parameters").`);
    }
    return { type: "function", function: fn };
  });
}

async function saveAssistant(event) {
  event.preventDefault();
  const save = $("a-save");
  const name = $("a-name").value.trim();
  const model = $("a-model").value;
  if (!model) {
    showError("Cannot save the assistant", "Choose a model (the list comes from GET /v1/models).");
    $("a-model").focus();
    return;
  }
  let functions;
  try {
    functions = parseFunctions($("a-functions").value);
  } catch (err) {
    showError("Cannot save the assistant", err);
    $("a-functions").focus();
    return;
  }
  const tools = [];
  if ($("a-code").checked) tools.push({ type: "code_interpreter" });
  if ($("a-search").checked) tools.push({ type: "file_search" });
  tools.push(...functions);
  save.disabled = true;
  try {
    let storeIds = state.vectorStoreIds;
    let newStore = null;
    if (state.searchFiles.join(",") !== state.searchFilesSaved) {
      storeIds = [];
      if (state.searchFiles.length) {
        setStatus("Creating a vector store for the file search files…");
        newStore = await api("/vector_stores", { method: "POST", json: {
          name: `${name || "assistant"} files`, file_ids: state.searchFiles,
        } });
        storeIds = [newStore.id];
      }
    }
    const body = {
      name: name || null,
      model,
      instructions: $("a-instructions").value || null,
      tools,
      tool_resources: {
        code_interpreter: { file_ids: state.codeFiles },
        file_search: { vector_store_ids: storeIds },
      },
    };
    const path = state.assistant ? `/assistants/${encodeURIComponent(state.assistant.id)}` : "/assistants";
    const saved = await api(path, { method: "POST", json: body });
    setStatus(`Saved assistant ${saved.name || saved.id}.`);
    await loadAssistants();
    await selectAssistant(saved);
    if (newStore) watchVectorStore(newStore.id);
  } catch (err) {
    setStatus("");
    showError("Could not save the assistant", err);
  } finally {
    save.disabled = false;
  }
}

async function watchVectorStore(storeId) {
  const status = $("a-search-status");
  for (let i = 0; i < 120; i++) {
    let store;
    try {
      store = await api(`/vector_stores/${encodeURIComponent(storeId)}`);
    } catch (err) {
      status.textContent = "";
      showError("Could not check the vector store", err);
      return;
    }
    const counts = store.file_counts || {};
    if (!counts.in_progress) {
      status.textContent = `Files indexed: ${counts.completed || 0} ready` + (counts.failed ? `, ${counts.failed} failed` : "") + ".";
      return;
    }
    status.textContent = `Indexing files: ${counts.completed || 0} of ${counts.total || "?"} ready…`;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function deleteAssistant() {
  const assistant = state.assistant;
  if (!assistant || !confirm(`Delete the assistant "${assistant.name || assistant.id}"?`)) return;
  try {
    await api(`/assistants/${encodeURIComponent(assistant.id)}`, { method: "DELETE" });
    setStatus(`Deleted assistant ${assistant.name || assistant.id}.`);
    newAssistant();
    await loadAssistants();
  } catch (err) {
    showError("Could not delete the assistant", err);
  }
}

// ---------------------------------------------------------------- threads

function threads() {
  try {
    return JSON.parse(localStorage.getItem(THREADS_STORE) || "[]");
  } catch {
    return [];
  }
}

function saveThreads(list) {
  localStorage.setItem(THREADS_STORE, JSON.stringify(list));
}

function renderThreads() {
  const list = $("thread-list");
  const items = threads();
  if (!items.length) {
    list.replaceChildren(el("li", { class: "empty" }, "No threads yet."));
    return;
  }
  list.replaceChildren(...items.map((t) => el("li", { class: "thread-item" },
    el("button", {
      type: "button", class: "item", "data-thread-id": t.id,
      "aria-current": t.id === state.threadId ? "true" : null, onclick: () => openThread(t.id),
    }, el("span", { class: "item-title" }, t.title || t.id), el("span", { class: "item-sub" }, when(t.created_at))),
    el("button", {
      type: "button", class: "secondary small", "aria-label": `Delete thread ${t.title || t.id}`,
      onclick: () => deleteThread(t.id),
    }, "Delete"))));
}

function newThread() {
  state.threadId = null;
  state.run = null;
  resetChat();
  $("tool-outputs").hidden = true;
  renderThreads();
  updateChatContext();
  renderRuns([]);
  remember();
  $("composer-text").focus();
}

async function ensureThread(title) {
  if (state.threadId) return state.threadId;
  const thread = await api("/threads", { method: "POST", json: {} });
  const items = threads();
  items.unshift({ id: thread.id, title: title.slice(0, 60) || "(files)", created_at: thread.created_at });
  saveThreads(items);
  state.threadId = thread.id;
  renderThreads();
  updateChatContext();
  remember();
  return thread.id;
}

async function openThread(threadId) {
  if (state.busy) return;
  state.threadId = threadId;
  state.run = null;
  resetChat();
  $("tool-outputs").hidden = true;
  renderThreads();
  updateChatContext();
  remember();
  try {
    await loadHistory(threadId);
  } catch (err) {
    if (err.status === 404) {
      saveThreads(threads().filter((t) => t.id !== threadId));
      showError("The thread is gone", err);
      newThread();
      return;
    }
    showError("Could not load the thread", err);
  }
  await loadRuns();
}

async function deleteThread(threadId) {
  const item = threads().find((t) => t.id === threadId);
  if (!confirm(`Delete the thread "${(item && item.title) || threadId}"?`)) return;
  try {
    await api(`/threads/${encodeURIComponent(threadId)}`, { method: "DELETE" });
  } catch (err) {
    if (err.status !== 404) {
      showError("Could not delete the thread", err);
      return;
    }
  }
  saveThreads(threads().filter((t) => t.id !== threadId));
  if (state.threadId === threadId) newThread();
  else renderThreads();
}

async function loadHistory(threadId) {
  const messages = await listAll(`/threads/${encodeURIComponent(threadId)}/messages?order=asc&limit=100`);
  const byId = new Map(messages.map((m) => [m.id, m]));
  const shown = new Set();
  const runsShown = new Set();
  for (const message of messages) {
    if (shown.has(message.id)) continue;
    if (message.run_id && !runsShown.has(message.run_id)) {
      runsShown.add(message.run_id);
      for (const step of await runSteps(threadId, message.run_id).catch(() => [])) {
        if (step.type === "tool_calls") {
          upsertStep(step);
        } else {
          const made = byId.get(((step.step_details || {}).message_creation || {}).message_id);
          if (made && !shown.has(made.id)) {
            upsertMessage(made);
            shown.add(made.id);
          }
        }
      }
    }
    if (!shown.has(message.id)) {
      upsertMessage(message);
      shown.add(message.id);
    }
  }
  if (!messages.length) $("messages").append(el("p", { class: "empty" }, "No messages yet."));
  try {
    const runs = await api(`/threads/${encodeURIComponent(threadId)}/runs?limit=1`);
    const last = runs.data[0];
    if (last && last.status === "requires_action") {
      state.run = last;
      showToolOutputs(last);
    }
  } catch { /* no runs API yet, or no runs */ }
}

// ---------------------------------------------------------------- run steps (cached per run)

const stepCache = new Map();

function runSteps(threadId, runId, fresh = false) {
  const key = `${threadId}/${runId}`;
  if (fresh || !stepCache.has(key)) {
    const query = new URLSearchParams({ order: "asc", limit: "100" });
    query.append("include[]", SEARCH_CONTENT);
    const load = listAll(`/threads/${encodeURIComponent(threadId)}/runs/${encodeURIComponent(runId)}/steps?${query}`);
    load.catch(() => stepCache.delete(key));
    stepCache.set(key, load);
  }
  return stepCache.get(key);
}

// ---------------------------------------------------------------- chat rendering

function resetChat() {
  followChat = true;
  state.views.clear();
  $("messages").replaceChildren();
}

// The conversation follows new content while the reader is at its end, not after they scroll up.
let followChat = true;
let autoScrollTop = 0;

function scrollChat(force = false) {
  const box = $("messages");
  if (force) followChat = true;
  if (followChat) {
    box.scrollTop = box.scrollHeight;
    autoScrollTop = box.scrollTop;
  }
}

function cut(value) {
  // Annotation offsets count code points (as the server does), not UTF-16 units.
  const points = Array.from(value || "");
  return (start, end) => points.slice(start, end).join("");
}

function renderText(text, refs, message) {
  const node = el("div", { class: "text" });
  const value = text.value || "";
  const slice = cut(value);
  const notes = (text.annotations || []).filter((a) => Number.isInteger(a.start_index) && Number.isInteger(a.end_index))
    .sort((a, b) => a.start_index - b.start_index);
  let at = 0;
  for (const note of notes) {
    if (note.start_index < at) continue;
    node.append(slice(at, note.start_index));
    if (note.type === "file_citation" && note.file_citation) {
      let ref = refs.find((r) => r.marker === note.text);
      if (!ref) {
        ref = { n: refs.length + 1, marker: note.text, fileId: note.file_citation.file_id, quote: note.file_citation.quote };
        refs.push(ref);
      }
      node.append(el("sup", { class: "cite" }, el("a", {
        href: `#ref-${message.id}-${ref.n}`, "aria-label": `Source ${ref.n}`, "data-file-id": ref.fileId,
      }, `[${ref.n}]`)));
    } else if (note.type === "file_path" && note.file_path) {
      node.append(downloadLink(note.file_path.file_id));
    } else {
      node.append(slice(note.start_index, note.end_index));
    }
    at = note.end_index;
  }
  node.append(slice(at));
  return node;
}

function citationQuote(message, marker, fileId) {
  const m = /【(\d+):(\d+)†/.exec(marker || "");
  if (!message.run_id || !state.threadId) return Promise.resolve(null);
  return runSteps(message.thread_id || state.threadId, message.run_id).then((steps) => {
    const calls = [];
    for (const step of steps) {
      for (const call of ((step.step_details || {}).tool_calls || [])) {
        if (call.type === "file_search") calls.push(call);
      }
    }
    let result = null;
    if (m && calls[+m[1]]) result = ((calls[+m[1]].file_search || {}).results || [])[+m[2]];
    if (!result || result.file_id !== fileId) {
      result = calls.flatMap((c) => (c.file_search || {}).results || []).find((r) => r.file_id === fileId) || null;
    }
    if (!result || !result.content) return null;
    return result.content.map((c) => c.text || "").join(" ").trim() || null;
  }).catch(() => null);
}

function renderRefs(refs, message) {
  return el("ol", { class: "refs", "aria-label": "Sources" }, refs.map((ref) => {
    const quote = el("blockquote", { class: "quote", hidden: true });
    const setQuote = (text) => {
      if (!text) return;
      quote.textContent = text.length > 400 ? `${text.slice(0, 400)}…` : text;
      quote.hidden = false;
      scrollChat();
    };
    if (ref.quote) setQuote(ref.quote);
    else citationQuote(message, ref.marker, ref.fileId).then(setQuote);
    return el("li", { id: `ref-${message.id}-${ref.n}`, value: ref.n, "data-file-id": ref.fileId },
      el("span", { class: "ref-label" }, `[${ref.n}] `), downloadLink(ref.fileId), quote);
  }));
}

function renderMessage(message) {
  const user = message.role === "user";
  const body = el("div", { class: "msg-body" });
  const refs = [];
  const linked = new Set();
  for (const part of message.content || []) {
    if (part.type === "text" && part.text) {
      body.append(renderText(part.text, refs, message));
      for (const note of part.text.annotations || []) {
        if (note.type === "file_path" && note.file_path) linked.add(note.file_path.file_id);
      }
    } else if (part.type === "image_file" && part.image_file) {
      body.append(imageFigure(part.image_file.file_id, "Image from the assistant"));
    } else if (part.type === "image_url" && part.image_url) {
      body.append(el("figure", { class: "image" }, el("img", { src: part.image_url.url, alt: "Image from a URL" })));
    }
  }
  if (refs.length) body.append(renderRefs(refs, message));
  const files = (message.attachments || []).filter((a) => !linked.has(a.file_id));
  if (files.length) {
    body.append(el("p", { class: "attachments" }, user ? "Attached: " : "Files: ",
      files.map((a, i) => [i ? ", " : "", downloadLink(a.file_id)])));
  }
  if (message.status === "incomplete") {
    const reason = (message.incomplete_details || {}).reason || "unknown reason";
    body.append(el("p", { class: "note" }, `The answer is incomplete (${reason}).`));
  }
  return el("article", {
    class: `msg ${user ? "user" : "assistant"}`, "data-message-id": message.id,
    "aria-busy": message.status === "in_progress" ? "true" : "false",
  }, el("h3", { class: "who" }, user ? "You" : "Assistant"), body);
}

function renderToolCall(call) {
  if (call.type === "code_interpreter") {
    const ci = call.code_interpreter || {};
    const outputs = (ci.outputs || []).map((out) => {
      if (out.type === "logs") return el("pre", { class: "logs", "aria-label": "Output" }, out.logs);
      if (out.type === "image" && out.image) return imageFigure(out.image.file_id, "Image from the code");
      return el("pre", { class: "logs" }, JSON.stringify(out, null, 2));
    });
    return el("details", { class: "tool code", open: true },
      el("summary", {}, "Code interpreter"),
      el("pre", { class: "code-input", "aria-label": "Code" }, el("code", {}, ci.input || "")),
      outputs.length ? el("div", { class: "outputs" }, outputs) : null);
  }
  if (call.type === "file_search") {
    const results = (call.file_search || {}).results || [];
    return el("details", { class: "tool search" },
      el("summary", {}, `File search · ${results.length} result${results.length === 1 ? "" : "s"}`),
      el("ul", {}, results.map((r) => el("li", {}, `${r.file_name || r.file_id}`,
        r.score !== undefined ? ` (score ${Number(r.score).toFixed(3)})` : ""))));
  }
  const fn = call.function || {};
  return el("details", { class: "tool function", open: true },
    el("summary", {}, `Function ${fn.name || ""}`),
    el("pre", { "aria-label": "Arguments" }, prettyJson(fn.arguments)),
    fn.output !== null && fn.output !== undefined ? el("pre", { class: "logs", "aria-label": "Output" }, fn.output) : null);
}

function prettyJson(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text || "";
  }
}

function renderStep(step) {
  const calls = (step.step_details || {}).tool_calls || [];
  return el("section", {
    class: `step ${step.status}`, "data-step-id": step.id, "aria-label": "Tool calls",
    "aria-busy": step.status === "in_progress" ? "true" : "false",
  }, calls.map(renderToolCall), step.last_error ? el("p", { class: "note" }, step.last_error.message) : null);
}

function upsert(id, data, render) {
  const view = state.views.get(id);
  const node = render(data);
  if (view) {
    view.node.replaceWith(node);
    view.node = node;
    view.data = data;
  } else {
    const box = $("messages");
    const empty = box.querySelector(":scope > .empty");
    if (empty) empty.remove();
    box.append(node);
    state.views.set(id, { data, node });
  }
  scrollChat();
}

function upsertMessage(message) {
  upsert(message.id, structuredClone(message), renderMessage);
}

function upsertStep(step) {
  if (step.type !== "tool_calls") return;
  upsert(step.id, structuredClone(step), renderStep);
}

function applyMessageDelta(delta) {
  const view = state.views.get(delta.id);
  if (!view) return;
  const message = view.data;
  message.content = message.content || [];
  for (const part of (delta.delta || {}).content || []) {
    const index = Number.isInteger(part.index) ? part.index : message.content.length;
    const current = message.content[index];
    if (part.type === "text") {
      if (!current || current.type !== "text") message.content[index] = { type: "text", text: { value: "", annotations: [] } };
      const text = message.content[index].text;
      text.value += (part.text || {}).value || "";
      text.annotations.push(...(((part.text || {}).annotations) || []));
    } else {
      const { index: _, ...rest } = part;
      message.content[index] = rest;
    }
  }
  upsert(delta.id, message, renderMessage);
}

function applyStepDelta(delta) {
  const view = state.views.get(delta.id);
  if (!view) return;
  const details = view.data.step_details = view.data.step_details || { type: "tool_calls", tool_calls: [] };
  details.tool_calls = details.tool_calls || [];
  for (const part of (((delta.delta || {}).step_details || {}).tool_calls) || []) {
    const index = Number.isInteger(part.index) ? part.index : details.tool_calls.length;
    const call = details.tool_calls[index] = details.tool_calls[index] || { id: part.id, type: part.type };
    if (part.id) call.id = part.id;
    if (part.type) call.type = part.type;
    if (part.code_interpreter) {
      // Code and arguments stream as fragments to append; outputs come with their index.
      const ci = call.code_interpreter = call.code_interpreter || { input: "", outputs: [] };
      ci.input = (ci.input || "") + (part.code_interpreter.input || "");
      ci.outputs = ci.outputs || [];
      for (const { index: at, ...rest } of part.code_interpreter.outputs || []) ci.outputs[at] = rest;
    }
    if (part.file_search) call.file_search = { ...(call.file_search || {}), ...part.file_search };
    if (part.function) {
      const fn = call.function = call.function || { name: "", arguments: "", output: null };
      if (part.function.name) fn.name = part.function.name;
      if (part.function.arguments) fn.arguments += part.function.arguments;
      if (part.function.output !== undefined && part.function.output !== null) fn.output = part.function.output;
    }
  }
  upsert(delta.id, view.data, renderStep);
}

function chatNote(text, kind = "note") {
  $("messages").append(el("p", { class: `chat-note ${kind}` }, text));
  scrollChat();
}

// ---------------------------------------------------------------- runs and streaming

function setBusy(busy) {
  state.busy = busy;
  $("send").disabled = busy;
  $("cancel-run").hidden = !busy;
  $("messages").setAttribute("aria-busy", busy ? "true" : "false");
}

async function consumeStream(res) {
  let ended = false;
  for await (const { event, data } of sseEvents(res)) {
    if (event === "done") break;
    ended = handleEvent(event, data) || ended;
  }
  return ended;
}

// Applies one stream event; returns true when the event ends the run's stream.
function handleEvent(event, data) {
  if (event.startsWith("thread.run.step.")) {
    if (event === "thread.run.step.delta") applyStepDelta(data);
    else upsertStep(data);
    return false;
  }
  if (event.startsWith("thread.message.")) {
    if (event === "thread.message.delta") applyMessageDelta(data);
    else upsertMessage(data);
    return false;
  }
  if (event.startsWith("thread.run.")) {
    state.run = data;
    const status = data.status;
    setStatus(`Run ${data.id}: ${status.replace("_", " ")}`);
    if (event === "thread.run.requires_action") {
      showToolOutputs(data);
      return true;
    }
    if (event === "thread.run.failed") {
      const error = data.last_error || {};
      showError("The run failed", error.message || "no reason given");
      chatNote(`Run failed: ${error.message || "no reason given"}`, "failed");
      return true;
    }
    if (event === "thread.run.incomplete") {
      chatNote(`Run incomplete: ${(data.incomplete_details || {}).reason || "no reason given"}`);
      return true;
    }
    if (event === "thread.run.cancelled" || event === "thread.run.expired") {
      chatNote(`Run ${status}.`);
      return true;
    }
    return event === "thread.run.completed";
  }
  if (event === "error") {
    const error = (data && data.error) || data || {};
    showError("The stream reported an error", error.message || JSON.stringify(error));
    return true;
  }
  return false;
}

async function streamRun(start) {
  setBusy(true);
  try {
    const res = await start();
    const ended = await consumeStream(res);
    if (!ended && state.run && RUN_ACTIVE.has(state.run.status) && state.run.status !== "requires_action") {
      showError("The stream ended early", `Run ${state.run.id} is still ${state.run.status}; open the thread again to see the result.`);
    }
  } catch (err) {
    setStatus("");
    showError("The run did not complete", err);
  } finally {
    setBusy(false);
    if (state.run && state.run.status !== "requires_action") setStatus(`Run ${state.run.status.replace("_", " ")}.`);
    await loadRuns(state.run && state.run.id);
  }
}

async function sendMessage(event) {
  event.preventDefault();
  if (state.busy) return;
  const textBox = $("composer-text");
  const fileInput = $("composer-files");
  const text = textBox.value.trim();
  const files = [...fileInput.files];
  if (!text && !files.length) {
    textBox.focus();
    return;
  }
  if (!state.assistant) {
    showError("Cannot send", "Choose an assistant in the list, or create one, first.");
    return;
  }
  setBusy(true);
  let threadId;
  try {
    threadId = await ensureThread(text);
    const tools = [];
    if ($("attach-code").checked) tools.push({ type: "code_interpreter" });
    if ($("attach-search").checked) tools.push({ type: "file_search" });
    const attachments = [];
    for (const file of files) {
      setStatus(`Uploading ${file.name}…`);
      attachments.push({ file_id: (await uploadFile(file)).id, tools });
    }
    const message = await api(`/threads/${encodeURIComponent(threadId)}/messages`, {
      method: "POST", json: { role: "user", content: text || "See the attached files.", attachments },
    });
    scrollChat(true);
    upsertMessage(message);
    textBox.value = "";
    fileInput.value = "";
    setStatus("Starting a run…");
  } catch (err) {
    setBusy(false);
    setStatus("");
    showError("Could not send the message", err);
    return;
  }
  const assistantId = state.assistant.id;
  await streamRun(() => api(`/threads/${encodeURIComponent(threadId)}/runs`, {
    method: "POST", json: { assistant_id: assistantId, stream: true }, raw: true,
  }));
}

function showToolOutputs(run) {
  const form = $("tool-outputs");
  const calls = (((run.required_action || {}).submit_tool_outputs || {}).tool_calls) || [];
  $("tool-calls").replaceChildren(...calls.map((call, i) => {
    const id = `tool-output-${i}`;
    return el("fieldset", { class: "tool-call", "data-call-id": call.id },
      el("legend", {}, `${call.function.name}`),
      el("p", { class: "hint" }, "Arguments"),
      el("pre", {}, prettyJson(call.function.arguments)),
      el("label", { for: id }, `Output of ${call.function.name}`),
      el("textarea", { id, rows: 2, "data-call-id": call.id }));
  }));
  form.hidden = false;
  form.dataset.runId = run.id;
  form.dataset.threadId = run.thread_id;
  const first = form.querySelector("textarea");
  if (first) first.focus();
}

async function submitToolOutputs(event) {
  event.preventDefault();
  const form = $("tool-outputs");
  const outputs = [...form.querySelectorAll("textarea[data-call-id]")].map((box) => ({
    tool_call_id: box.dataset.callId, output: box.value,
  }));
  const { runId, threadId } = form.dataset;
  form.hidden = true;
  await streamRun(() => api(
    `/threads/${encodeURIComponent(threadId)}/runs/${encodeURIComponent(runId)}/submit_tool_outputs`,
    { method: "POST", json: { tool_outputs: outputs, stream: true }, raw: true },
  ));
  if (state.run && state.run.status === "requires_action" && form.hidden) showToolOutputs(state.run);
  else if (form.hidden) $("composer-text").focus();
}

async function cancelRun() {
  const run = state.run;
  if (!run) return;
  try {
    await api(`/threads/${encodeURIComponent(run.thread_id)}/runs/${encodeURIComponent(run.id)}/cancel`, { method: "POST" });
    setStatus("Cancelling the run…");
  } catch (err) {
    showError("Could not cancel the run", err);
  }
}

// ---------------------------------------------------------------- run steps inspector

async function loadRuns(selectId) {
  if (!state.threadId) {
    renderRuns([]);
    return;
  }
  try {
    const runs = await api(`/threads/${encodeURIComponent(state.threadId)}/runs?limit=20&order=desc`);
    renderRuns(runs.data, selectId);
  } catch (err) {
    renderRuns([]);
    if (err.status !== 404 || !/Invalid URL/.test(err.message)) showError("Could not list runs", err);
  }
}

function renderRuns(runs, selectId) {
  const select = $("run-select");
  select.replaceChildren(...runs.map((r) => el("option", { value: r.id }, `${when(r.created_at)} · ${r.status} · ${r.id}`)));
  if (!runs.length) {
    select.append(el("option", { value: "" }, "No runs on this thread yet"));
    $("steps").replaceChildren();
    return;
  }
  select.value = selectId && runs.some((r) => r.id === selectId) ? selectId : runs[0].id;
  loadSteps();
}

async function loadSteps() {
  const runId = $("run-select").value;
  const box = $("steps");
  if (!runId || !state.threadId) {
    box.replaceChildren();
    return;
  }
  try {
    const steps = await runSteps(state.threadId, runId, true);
    box.replaceChildren(...(steps.length ? steps.map(inspectStep) : [el("p", { class: "empty" }, "No steps.")]));
  } catch (err) {
    box.replaceChildren();
    showError("Could not list the run steps", err);
  }
}

function inspectStep(step) {
  const details = step.step_details || {};
  const parts = [];
  if (details.type === "message_creation") {
    parts.push(el("p", {}, `Created message ${(details.message_creation || {}).message_id}`));
  }
  for (const call of details.tool_calls || []) {
    if (call.type === "file_search") {
      const results = (call.file_search || {}).results || [];
      parts.push(el("div", { class: "inspect-call" }, el("h4", {}, `file_search ${call.id}`),
        el("ol", {}, results.map((r) => el("li", {},
          el("strong", {}, r.file_name || r.file_id), ` score ${Number(r.score || 0).toFixed(3)}`,
          (r.content || []).length ? el("blockquote", {}, r.content.map((c) => c.text).join(" ").slice(0, 500)) : null)))));
    } else {
      parts.push(el("div", { class: "inspect-call" }, el("h4", {}, `${call.type} ${call.id}`), renderToolCall(call)));
    }
  }
  if (step.last_error) parts.push(el("p", { class: "note" }, `Error: ${step.last_error.message}`));
  if (step.usage) parts.push(el("p", { class: "hint" }, `Tokens: ${step.usage.prompt_tokens} prompt, ${step.usage.completion_tokens} completion`));
  return el("details", { class: `inspect-step ${step.status}`, "data-step-id": step.id },
    el("summary", {}, `${step.type.replace("_", " ")} · ${step.status}`),
    el("p", { class: "hint" }, `${step.id} · ${when(step.created_at)}`),
    parts,
    el("details", { class: "raw" }, el("summary", {}, "Raw JSON"), el("pre", {}, JSON.stringify(step, null, 2))));
}

// ---------------------------------------------------------------- start

function bind() {
  $("key-button").addEventListener("click", async () => {
    if (await askForKey("The key is kept in this browser and sent as Authorization: Bearer.")) {
      clearErrors();
      await Promise.all([loadModels(), loadAssistants()]);
    }
  });
  $("new-assistant").addEventListener("click", newAssistant);
  $("new-thread").addEventListener("click", newThread);
  $("assistant-form").addEventListener("submit", saveAssistant);
  $("a-delete").addEventListener("click", deleteAssistant);
  $("a-code-upload").addEventListener("change", (e) => addEditorFiles(e.target, state.codeFiles));
  $("a-search-upload").addEventListener("change", (e) => addEditorFiles(e.target, state.searchFiles));
  $("composer").addEventListener("submit", sendMessage);
  $("composer-text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("cancel-run").addEventListener("click", cancelRun);
  $("tool-outputs").addEventListener("submit", submitToolOutputs);
  $("run-select").addEventListener("change", loadSteps);
  $("messages").addEventListener("scroll", () => {
    const box = $("messages");
    if (box.scrollHeight - box.scrollTop - box.clientHeight < 40) followChat = true;
    else if (box.scrollTop < autoScrollTop - 2) followChat = false;  // the reader scrolled up
  });
  $("steps-refresh").addEventListener("click", () => loadRuns($("run-select").value));
}

async function start() {
  bind();
  let current = {};
  try {
    current = JSON.parse(localStorage.getItem(CURRENT_STORE) || "{}");
  } catch { /* ignore */ }
  renderThreads();
  renderFileLists();
  renderRuns([]);
  updateChatContext();
  await Promise.all([loadModels(), loadAssistants()]);
  const assistant = state.assistants.find((a) => a.id === current.assistant) || state.assistants[0];
  if (assistant) await selectAssistant(assistant);
  if (current.thread && threads().some((t) => t.id === current.thread)) await openThread(current.thread);
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", start);
