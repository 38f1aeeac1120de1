// Falcon's dev chat page: the REST API with the dev identity (X-Account-Id),
// and the event stream through EventSource (which cannot send headers, so
// the account goes in its URL).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { account: "", threads: [], current: null, older: "", events: null, editing: null, cursor: "", failures: 0 };

function setStatus(text) { $("status").textContent = text; }

async function api(method, path, body) {
  const resp = await fetch(path, {
    method,
    headers: { "X-Account-Id": state.account, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    throw new Error(data.message || ("HTTP " + resp.status));
  }
  return data;
}

function report(err) { setStatus("⚠ " + err.message); }

// Threads

async function loadThreads() {
  const data = await api("GET", "/v1/threads?pageSize=100");
  state.threads = data.threads || [];
  renderThreads();
}

function renderThreads() {
  const ul = $("threads");
  ul.replaceChildren();
  for (const t of state.threads) {
    const li = document.createElement("li");
    li.dataset.threadId = t.threadId;
    if (state.current && state.current.threadId === t.threadId) li.classList.add("current");
    if (t.unread) li.classList.add("unread");
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = t.title + " (" + t.memberCount + ")";
    b.onclick = () => openThread(t).catch(report);
    li.append(b);
    ul.append(li);
  }
}

async function createThread(ev) {
  ev.preventDefault();
  const members = $("new-members").value.split(",").map((s) => s.trim()).filter(Boolean);
  const created = await api("POST", "/v1/threads", { title: $("new-title").value, memberIds: members });
  $("new-title").value = "";
  $("new-members").value = "";
  const t = await api("GET", "/v1/threads/" + created.threadId + "?minVersion=" + created.version);
  await loadThreads();
  await openThread({ threadId: t.thread.threadId, title: t.thread.title });
}

// Messages

async function openThread(t) {
  state.current = t;
  t.unread = false;
  $("thread").hidden = false;
  $("thread-title").textContent = t.title;
  $("messages").replaceChildren();
  state.older = "";
  renderThreads();
  await loadOlder();
}

async function loadOlder() {
  const t = state.current;
  let path = "/v1/threads/" + t.threadId + "/messages?pageSize=20&order=MESSAGE_ORDER_NEWEST_FIRST";
  if (state.older) path += "&pageToken=" + encodeURIComponent(state.older);
  const data = await api("GET", path);
  if (state.current !== t) return;
  for (const m of data.messages || []) showMessage(m, true);
  state.older = data.nextPageToken || "";
  $("older").hidden = !state.older;
}

function showMessage(m, atTop) {
  const list = $("messages");
  let li = list.querySelector('[data-message-id="' + m.messageId + '"]');
  if (!li) {
    li = document.createElement("li");
    li.className = "message";
    li.dataset.messageId = m.messageId;
    if (atTop) list.prepend(li); else list.append(li);
  }
  const sender = document.createElement("span");
  sender.className = "sender";
  sender.textContent = m.senderId;
  const body = document.createElement("span");
  body.className = "body";
  body.textContent = m.body;
  li.replaceChildren(sender, body);
  li.dataset.sender = m.senderId;
  if (m.editedAt) {
    const e = document.createElement("span");
    e.className = "edited";
    e.textContent = "(edited)";
    li.append(e);
  }
  if (m.senderId === state.account) {
    const edit = document.createElement("button");
    edit.type = "button";
    edit.className = "edit";
    edit.textContent = "edit";
    edit.onclick = () => startEdit(m.messageId, body.textContent);
    const del = document.createElement("button");
    del.type = "button";
    del.className = "delete";
    del.textContent = "delete";
    del.onclick = () => api("DELETE", "/v1/threads/" + state.current.threadId + "/messages/" + m.messageId)
      .then(() => li.remove()).catch(report);
    li.append(edit, del);
  }
  if (!atTop) list.scrollTop = list.scrollHeight;
}

function startEdit(id, text) {
  state.editing = id;
  $("body").value = text;
  $("post").textContent = "Save";
  $("cancel-edit").hidden = false;
  $("body").focus();
}

function endEdit() {
  state.editing = null;
  $("body").value = "";
  $("post").textContent = "Send";
  $("cancel-edit").hidden = true;
}

async function send(ev) {
  ev.preventDefault();
  const t = state.current;
  const body = $("body").value;
  if (state.editing) {
    await api("PATCH", "/v1/threads/" + t.threadId + "/messages/" + state.editing, { body });
    const li = $("messages").querySelector('[data-message-id="' + state.editing + '"] .body');
    if (li) li.textContent = body;
    endEdit();
    return;
  }
  const posted = await api("POST", "/v1/threads/" + t.threadId + "/messages", { body });
  $("body").value = "";
  showMessage({ messageId: posted.messageId, senderId: state.account, body }, false);
}

// Live events

function connect() {
  if (state.events) state.events.close();
  let url = "/v1/events:stream?account=" + encodeURIComponent(state.account);
  if (state.cursor) url += "&cursor=" + encodeURIComponent(state.cursor);
  const es = new EventSource(url);
  state.events = es;
  es.onopen = () => { state.failures = 0; setStatus("live as " + state.account); };
  es.onerror = () => {
    setStatus("reconnecting…");
    if (es.readyState !== EventSource.CLOSED) return; // the browser retries by itself
    // Refused (a replica starting, or a cursor too old: 410): try again from
    // where we stood; after a second refusal, reload and follow from now.
    state.failures++;
    if (state.failures > 1) {
      state.cursor = "";
      loadThreads().catch(report);
    }
    setTimeout(connect, 1000);
  };
  // Every message's id is the cursor to resume from.
  const track = (e) => { if (e.lastEventId) state.cursor = e.lastEventId; };
  for (const type of ["MessagePosted", "MessageEdited", "MessageDeleted", "ThreadCreated", "ThreadUpdated",
    "MembersAdded", "MembersRemoved", "AdministratorsAdded", "AdministratorsRemoved", "ThreadDestroyed", "end"]) {
    es.addEventListener(type, track);
  }
  es.addEventListener("MessagePosted", (e) => {
    const ev = JSON.parse(e.data);
    if (state.current && ev.threadId === state.current.threadId) {
      showMessage(ev.messagePosted, false);
    } else {
      const t = state.threads.find((x) => x.threadId === ev.threadId);
      if (t) { t.unread = true; renderThreads(); }
    }
  });
  es.addEventListener("MessageEdited", (e) => {
    const ev = JSON.parse(e.data);
    const li = $("messages").querySelector('[data-message-id="' + ev.messageEdited.messageId + '"] .body');
    if (li) li.textContent = ev.messageEdited.body;
  });
  es.addEventListener("MessageDeleted", (e) => {
    const ev = JSON.parse(e.data);
    const li = $("messages").querySelector('[data-message-id="' + ev.messageDeleted.messageId + '"]');
    if (li) li.remove();
  });
  for (const type of ["ThreadCreated", "ThreadUpdated", "MembersAdded", "MembersRemoved", "ThreadDestroyed"]) {
    es.addEventListener(type, (e) => threadChanged(JSON.parse(e.data)).catch(report));
  }
  es.addEventListener("end", (e) => setStatus("stream ended: " + JSON.parse(e.data).message));
}

// threadChanged updates the list from a thread's event: read at the event's
// version (min_version), since the read model may not have applied it yet.
async function threadChanged(ev) {
  const left = ev.type === "ThreadDestroyed" ||
    (ev.type === "MembersRemoved" && ev.membersRemoved.accountIds.includes(state.account));
  state.threads = state.threads.filter((t) => t.threadId !== ev.threadId);
  if (!left) {
    const got = await api("GET", "/v1/threads/" + ev.threadId + "?minVersion=" + ev.version);
    const t = got.thread;
    state.threads.unshift({ threadId: t.threadId, title: t.title, memberCount: (t.memberIds || []).length });
  } else if (state.current && state.current.threadId === ev.threadId) {
    state.current = null;
    $("thread").hidden = true;
  }
  renderThreads();
}

function useAccount(ev) {
  if (ev) ev.preventDefault();
  state.account = $("account").value.trim();
  if (!state.account) return;
  localStorage.setItem("falcon-account", state.account);
  state.current = null;
  state.cursor = "";
  $("thread").hidden = true;
  connect();
  loadThreads().catch(report);
}

$("account-form").onsubmit = useAccount;
$("new-thread").onsubmit = (ev) => createThread(ev).catch(report);
$("composer").onsubmit = (ev) => send(ev).catch(report);
$("older").onclick = () => loadOlder().catch(report);
$("cancel-edit").onclick = endEdit;
const params = new URLSearchParams(location.search);
$("account").value = params.get("account") || localStorage.getItem("falcon-account") || "";
if ($("account").value) useAccount();
