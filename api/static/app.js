// The chat page: vanilla JS, no build step, nothing fetched from outside this server.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
const MAX_HISTORY_TURNS = 20;
const MAX_CONVERSATION_CHARS = 24000; // question + history, as api/schemas/questions.py
const STORE_KEY = "rag-conversations-v1"; // localStorage: this browser's conversations
const KEY_KEY = "rag-api-key";            // sessionStorage: the API key, for this tab only
const MAX_CONVERSATIONS = 200;

const state = {
  ready: false,
  busy: false,
  controller: null,       // AbortController of the running question
  conv: null,             // the open conversation: {id, title, renamed, created, updated}
  exchanges: [],          // its exchanges: [{question, answer (final text), full (the Answer JSON), el}]
  reportsLoaded: false,
};

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

function button(text, className, onClick, title) {
  const b = el("button", className, text);
  b.type = "button";
  if (title) b.title = title;
  if (onClick) b.addEventListener("click", onClick);
  return b;
}

function formatDate(ts) {
  const d = new Date(ts);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

// ---------------------------------------------------------------- API access

function apiKey() { return sessionStorage.getItem(KEY_KEY) || ""; }

function authHeaders(extra = {}) {
  const headers = Object.assign({}, extra);
  if (apiKey()) headers["Authorization"] = "Bearer " + apiKey();
  return headers;
}

// Asks for the API key once (a modal), keeps it for this tab. Resolves true when one was entered.
let keyPrompt = null;
function askForKey() {
  if (keyPrompt) return keyPrompt;
  const dialog = $("#key-dialog");
  keyPrompt = new Promise((resolve) => {
    $("#key-input").value = "";
    dialog.addEventListener("close", () => {
      const key = $("#key-input").value.trim();
      if (dialog.returnValue === "ok" && key) sessionStorage.setItem(KEY_KEY, key);
      keyPrompt = null;
      resolve(dialog.returnValue === "ok" && !!key);
    }, { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
  return keyPrompt;
}

async function api(path, options = {}, retried = false) {
  const res = await fetch(path, Object.assign({}, options, { headers: authHeaders(options.headers) }));
  if (res.status === 401 && !retried && await askForKey()) return api(path, options, true);
  return res;
}

async function errorMessage(res) {
  try {
    const body = await res.json();
    if (body && body.error) return body.error.message;
  } catch (_) { /* not JSON */ }
  return `请求失败（HTTP ${res.status}）`;
}

async function getJSON(path) {
  const res = await api(path);
  if (!res.ok) throw new Error(await errorMessage(res));
  return res.json();
}

// Splits Server-Sent Events text into {event, data}; returns the unparsed rest.
function parseSSE(buffer, emit) {
  let cut;
  while ((cut = buffer.indexOf("\n\n")) >= 0) {
    const block = buffer.slice(0, cut);
    buffer = buffer.slice(cut + 2);
    let event = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) emit({ event: "comment", data: line.slice(1).trim() });  // `: queued 2`
      else if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    if (data.length) emit({ event, data: JSON.parse(data.join("\n")) });
  }
  return buffer;
}

// Server-Sent Events over a POST (EventSource only does GET): yields {event, data}.
async function* readSSE(res) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const events = [];
    buffer = parseSSE(buffer + decoder.decode(value, { stream: true }), (e) => events.push(e));
    yield* events;
  }
}

// ---------------------------------------------------------------- readiness

async function pollReady() {
  const status = $("#status");
  try {
    const res = await fetch("/readyz");
    const body = await res.json();
    if (body.ready) {
      state.ready = true;
      status.className = "status ready";
      status.textContent = "就绪";
      status.title = body.model ? "模型：" + body.model : "";
      updateSend();
      return;
    }
    const failed = body.detail && body.detail.startsWith("loading failed");
    status.className = "status " + (failed ? "failed" : "loading");
    status.textContent = failed ? "加载失败" : "正在加载模型…";
    status.title = body.detail || "";
    if (failed) {
      const box = el("div", "msg assistant failed");
      box.appendChild(el("div", "error-box", "服务加载失败：" + body.detail));
      $("#messages").appendChild(box);
      return;
    }
  } catch (_) {
    status.className = "status failed";
    status.textContent = "无法连接服务";
  }
  setTimeout(pollReady, 2000);
}

// ---------------------------------------------------------------- conversations (localStorage)

function loadStore() {
  try {
    const list = JSON.parse(localStorage.getItem(STORE_KEY) || "[]");
    return Array.isArray(list) ? list : [];
  } catch (_) {
    return [];  // unreadable (edited by hand, another version): start afresh rather than break the page
  }
}

function writeStore(list) {
  list.sort((a, b) => b.updated - a.updated);
  list = list.slice(0, MAX_CONVERSATIONS);
  for (;;) {
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify(list));
      return;
    } catch (_) {  // over the browser's quota: drop the oldest conversation and try again
      if (list.length <= 1) return;
      list.pop();
    }
  }
}

// What a stored answer keeps: enough to show it again, cite and export it (not the retrieved passages).
function storedAnswer(full) {
  if (!full) return null;
  const keep = ["answer", "citations", "refused", "table", "fallback", "unsupported", "timings", "model"];
  return Object.fromEntries(keep.filter((k) => full[k] !== undefined).map((k) => [k, full[k]]));
}

function conversationTitle(conv) {
  return conv.title || (conv.exchanges && conv.exchanges[0] ? conv.exchanges[0].question : "新对话");
}

function saveConversation() {
  if (!state.conv || !state.exchanges.length) return;
  const list = loadStore().filter((c) => c.id !== state.conv.id);
  state.conv.updated = Date.now();
  list.push(Object.assign({}, state.conv, {
    exchanges: state.exchanges.map((ex) => ({ question: ex.question, answer: storedAnswer(ex.full) })),
  }));
  writeStore(list);
  renderConversationList();
}

function renderConversationList() {
  const ul = $("#conversation-list");
  ul.innerHTML = "";
  const list = loadStore();
  $("#no-conversations").hidden = list.length > 0;
  for (const conv of list) {
    const li = el("li", "conversation");
    li.dataset.id = conv.id;
    const current = state.conv && state.conv.id === conv.id;
    const open = button("", "conv-open", () => openConversation(conv.id));
    open.appendChild(el("span", "conv-title", conversationTitle(conv)));
    open.appendChild(el("span", "conv-date", `${formatDate(conv.created)} · ${conv.exchanges.length} 问`));
    if (current) open.setAttribute("aria-current", "true");
    li.classList.toggle("current", current);
    const tools = el("div", "conv-tools");
    tools.append(
      button("重命名", "conv-rename ghost small", () => startRename(li, conv), "重命名这段对话"),
      button("导出", "conv-export ghost small", () => exportConversation(conv), "导出为 Markdown 文件"),
      button("删除", "conv-delete ghost small", () => deleteConversation(conv), "删除这段对话"),
    );
    li.append(open, tools);
    ul.appendChild(li);
  }
}

function startRename(li, conv) {
  const input = el("input", "conv-name");
  input.value = conversationTitle(conv);
  input.setAttribute("aria-label", "对话名称（Enter 保存，Esc 取消）");
  const open = $(".conv-open", li);
  open.hidden = true;
  li.insertBefore(input, open);
  input.focus();
  input.select();
  let done = false;
  const finish = (save) => {
    if (done) return;
    done = true;
    const name = input.value.trim();
    if (save && name) {
      const list = loadStore();
      const stored = list.find((c) => c.id === conv.id);
      if (stored) {
        stored.title = name;
        stored.renamed = true;
        writeStore(list);
      }
      if (state.conv && state.conv.id === conv.id) state.conv.title = name;
    }
    renderConversationList();
    const again = $(`#conversation-list li[data-id="${conv.id}"] .conv-rename`);
    if (again) again.focus();
  };
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); finish(true); }
    if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); finish(false); }
  });
  input.addEventListener("blur", () => finish(true));
}

async function deleteConversation(conv) {
  if (!await confirmDialog(`删除对话「${conversationTitle(conv)}」？删除后无法恢复。`, "删除")) return;
  writeStore(loadStore().filter((c) => c.id !== conv.id));
  if (state.conv && state.conv.id === conv.id) newConversation();
  renderConversationList();
}

function newConversation() {
  if (state.controller) state.controller.abort();
  state.conv = null;
  state.exchanges = [];
  for (const m of $$("#messages .msg")) m.remove();
  $("#welcome").hidden = false;
  closeReader(false);
  renderConversationList();
}

function openConversation(id) {
  const conv = loadStore().find((c) => c.id === id);
  if (!conv) return;
  newConversation();
  state.conv = { id: conv.id, title: conv.title, renamed: conv.renamed, created: conv.created, updated: conv.updated };
  $("#welcome").hidden = conv.exchanges.length > 0;
  for (const saved of conv.exchanges) {
    const ex = addExchange(saved.question);
    if (saved.answer) {
      ex.full = saved.answer;
      ex.answer = saved.answer.answer;
      showFinal(ex.el, saved.answer);
    } else {
      $(".progress", ex.el).hidden = true;
      $(".notes", ex.el).appendChild(el("div", null, "这个问题没有答完（页面在回答时关闭了）。"));
      $(".actions", ex.el).hidden = false;
    }
  }
  markLastRegenerable();
  renderConversationList();
  switchView("chat");
  closeSidebar();
  scrollToBottom();
}

// ---------------------------------------------------------------- Markdown: copy and export

function sourceLabel(src) {
  return [src.report_title, ...(src.section_path || [])].join(" › ");
}

// A cell's text with its citation numbers, as the Markdown and CSV copies carry them.
// a cell's markers: after each of its clauses (a row quoting several) or, else, at its end
function cellText(cell) {
  return cell.text + cell.citations.filter((n) => !cell.text.includes(`[${n}]`)).map((n) => `[${n}]`).join("");
}

function tableMarkdown(table) {
  const row = (cells) => "| " + cells.map((c) => c.replace(/\s+/g, " ").replace(/\|/g, "\\|")).join(" | ") + " |";
  return [row(table.columns), "|" + "---|".repeat(table.columns.length),
    ...table.rows.map((r) => row(r.map(cellText)))].join("\n");
}

function tableCSV(table) {
  const field = (s) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  return [table.columns, ...table.rows.map((r) => r.map(cellText))]
    .map((r) => r.map(field).join(",")).join("\r\n") + "\r\n";
}

// The answer body as Markdown: its text with [n] markers, or a table answer's first line and its table.
function answerBodyMarkdown(answer) {
  const text = answer.table && !answer.refused
    ? answer.answer.split("\n\n")[0] + "\n\n" + tableMarkdown(answer.table)
    : answer.answer;
  return answer.refused ? "> 报告中未找到依据\n\n" + text : text;
}

function sourceMarkdown(n, c) {
  const quote = (c.quote || "").replace(/\s+/g, " ");
  return `[${n}] ${sourceLabel(c)}\n> ${quote}`;
}

// "复制": the answer and its sources, as Markdown.
function answerAsMarkdown(answer) {
  let text = answerBodyMarkdown(answer);
  if (answer.citations.length) {
    text += "\n\n" + (answer.refused ? "最接近的章节：" : "来源：") + "\n\n" +
      answer.citations.map((c) => sourceMarkdown(c.n, c)).join("\n\n");
  }
  return text;
}

// A conversation as one Markdown document. Each answer numbers its citations from 1; here they are
// renumbered into one list for the whole document (the same quoted span keeps one number).
function conversationMarkdown(conv) {
  const sources = [];
  const numberOf = new Map();
  const out = [`# ${conversationTitle(conv)}`, "",
    `> 政府工作报告问答 · 创建于 ${formatDate(conv.created)} · 导出于 ${formatDate(Date.now())}`];
  conv.exchanges.forEach((ex, i) => {
    out.push("", `## ${i + 1}. ${ex.question.replace(/\s+/g, " ")}`, "");
    const a = ex.answer;
    if (!a) {
      out.push("（没有答完）");
      return;
    }
    const local = new Map();
    for (const c of a.citations || []) {
      const key = `${c.report_id}|${c.section_id}|${c.char_start}|${c.char_end}`;
      if (!numberOf.has(key)) {
        sources.push(c);
        numberOf.set(key, sources.length);
      }
      local.set(c.n, numberOf.get(key));
    }
    out.push(answerBodyMarkdown(a).replace(/\[(\d+)\]/g, (m, n) => (local.has(+n) ? `[${local.get(+n)}]` : m)));
  });
  if (sources.length) {
    out.push("", "## 来源", "");
    sources.forEach((c, i) => out.push(sourceMarkdown(i + 1, c), ""));
  }
  return out.join("\n").trimEnd() + "\n";
}

function download(name, blob) {
  const a = el("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function exportConversation(conv) {
  const stored = loadStore().find((c) => c.id === conv.id) || conv;
  const name = conversationTitle(stored).replace(/[\\/:*?"<>|\s]+/g, "_").slice(0, 40) || "对话";
  download(`${name}.md`, new Blob([conversationMarkdown(stored)], { type: "text/markdown;charset=utf-8" }));
}

async function copyText(text, btn, label = "复制") {
  try {
    await navigator.clipboard.writeText(text);
  } catch (_) {  // no clipboard API outside secure contexts: fall back to a hidden textarea
    const ta = el("textarea");
    ta.value = text;
    document.body.appendChild(ta);
    ta.select();
    document.execCommand("copy");
    ta.remove();
  }
  btn.textContent = "已复制";
  setTimeout(() => { btn.textContent = label; }, 1500);
}

// ---------------------------------------------------------------- chat

function updateSend() {
  const send = $("#send");
  if (state.busy) {
    send.textContent = "停止";
    send.classList.add("stop");
    send.disabled = false;
  } else {
    send.textContent = "发送";
    send.classList.remove("stop");
    send.disabled = !state.ready;
  }
}

function scrollToBottom() {
  const box = $("#messages");
  box.scrollTop = box.scrollHeight;
}

function historyBefore(index) {
  const turns = [];
  for (const ex of state.exchanges.slice(0, index)) {
    if (ex.answer == null) continue;
    turns.push({ role: "user", content: ex.question }, { role: "assistant", content: ex.answer });
  }
  const kept = turns.slice(-MAX_HISTORY_TURNS);
  // The API caps question + history at MAX_CONVERSATION_CHARS: drop the oldest turns until it fits.
  let total = state.exchanges[index] ? state.exchanges[index].question.length : 0;
  total += kept.reduce((n, t) => n + t.content.length, 0);
  while (kept.length && total > MAX_CONVERSATION_CHARS) total -= kept.shift().content.length;
  return kept;
}

// Answer text with [n] markers turned into clickable citation chips, and the model's **bold** shown as bold
// (the only Markdown small models reliably produce); everything else stays plain text.
function renderAnswerText(container, text, citations) {
  container.innerHTML = "";
  renderInline(container, text, new Map(citations.map((c) => [c.n, c])), citations);
}

function renderInline(container, text, byN, group) {
  const re = /\*\*([^*]+?)\*\*|\[(\d+)\]/g;
  let last = 0, m;
  while ((m = re.exec(text)) !== null) {
    container.appendChild(document.createTextNode(text.slice(last, m.index)));
    last = re.lastIndex;
    if (m[1] !== undefined) {
      const strong = el("strong");
      renderInline(strong, m[1], byN, group);
      container.appendChild(strong);
      continue;
    }
    const cit = byN.get(Number(m[2]));
    if (!cit) {
      container.appendChild(document.createTextNode(m[0]));
      continue;
    }
    const chip = button(m[2], "cite", () => openSource(cit, group), sourceLabel(cit));
    chip.dataset.n = m[2];
    chip.setAttribute("aria-label", `来源 ${m[2]}：${sourceLabel(cit)}`);
    container.appendChild(chip);
  }
  container.appendChild(document.createTextNode(text.slice(last)));
}

// An empty <table> with the given columns, rows appended by appendTableRow.
function tableElement(columns) {
  const wrap = el("div", "answer-table");
  const table = el("table");
  const head = table.createTHead().insertRow();
  for (const c of columns) {
    const th = el("th", null, c);
    th.scope = "col";
    head.appendChild(th);
  }
  table.createTBody();
  wrap.appendChild(table);
  return wrap;
}

function appendTableRow(wrap, cells, byN, group) {
  const tr = $("tbody", wrap).insertRow();
  for (const cell of cells) renderInline(tr.insertCell(), cellText(cell), byN, group);
}

// The final table answer: the count line, the table with citation chips, copy-as-Markdown and CSV download.
function renderTable(container, answer) {
  const byN = new Map(answer.citations.map((c) => [c.n, c]));
  container.innerHTML = "";
  container.appendChild(el("div", "table-intro", answer.answer.split("\n\n")[0]));
  const wrap = tableElement(answer.table.columns);
  for (const cells of answer.table.rows) appendTableRow(wrap, cells, byN, answer.citations);
  container.appendChild(wrap);
  const tools = el("div", "table-tools");
  tools.append(
    button("复制 Markdown", "copy-md ghost small",
           (e) => copyText(tableMarkdown(answer.table), e.currentTarget, "复制 Markdown")),
    // a BOM, so spreadsheet programs read the Chinese text as UTF-8
    button("下载 CSV", "download-csv ghost small", () => download("answer-table.csv",
      new Blob(["\ufeff" + tableCSV(answer.table)], { type: "text/csv;charset=utf-8" }))),
  );
  container.appendChild(tools);
}

function sourceItem(src, text, onClick) {
  const li = el("li");
  li.appendChild(el("span", "src-title", sourceLabel(src)));
  li.appendChild(el("span", "src-excerpt", text.replace(/\s+/g, " ")));
  li.tabIndex = 0;
  li.setAttribute("role", "button");
  li.addEventListener("click", onClick);
  li.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onClick(); }
  });
  return li;
}

function showEvidence(msg, evidence) {
  const box = $(".sources", msg);
  const list = $(".evidence-list", box);
  list.innerHTML = "";
  for (const ev of evidence) list.appendChild(sourceItem(ev, ev.text, () => openSource(ev, [])));
  $(".sources-title", box).textContent = evidence.length ? `参考来源（${evidence.length}）` : "没有检索到相关段落";
  box.hidden = false;
}

function showFinal(msg, answer) {
  const answerBox = $(".answer", msg);
  answerBox.classList.remove("streaming");
  $(".progress", msg).hidden = true;
  msg.classList.toggle("refused", answer.refused);
  if (answer.evidence && answer.evidence.length) showEvidence(msg, answer.evidence);
  $(".sources", msg).open = false;  // the answer's own citations list what it used; the rest folds away
  if (answer.table && !answer.refused) renderTable(answerBox, answer);
  else renderAnswerText(answerBox, answer.answer, answer.citations);
  if (answer.refused) answerBox.prepend(el("div", "refusal-label", "报告中未找到依据"));
  const notes = $(".notes", msg);
  notes.innerHTML = "";
  if (answer.fallback) notes.appendChild(el("div", null, "说明：" + answer.fallback));
  if (answer.unsupported && answer.unsupported.length) {
    const d = el("details");
    d.appendChild(el("summary", null, `已删除 ${answer.unsupported.length} 句没有依据的内容`));
    for (const u of answer.unsupported) d.appendChild(el("div", null, `「${u.text}」（${u.reason}）`));
    notes.appendChild(d);
  }
  const list = $(".citation-list", msg);
  list.innerHTML = "";
  if (answer.citations.length) {
    list.appendChild(el("div", "list-title", answer.refused ? "最接近的章节" : "引用"));
    for (const c of answer.citations) {
      const li = sourceItem(c, c.quote, () => openSource(c, answer.citations));
      li.querySelector(".src-title").textContent = `[${c.n}] ` + sourceLabel(c);
      li.classList.add("citation");
      list.appendChild(li);
    }
    list.hidden = false;
  }
  const t = answer.timings || {};
  const parts = [`检索 ${Math.round(t.retrieval_ms || 0)} ms`];
  if (t.first_token_ms != null) parts.push(`首字 ${(t.first_token_ms / 1000).toFixed(1)} s`);
  parts.push(`共 ${((t.total_ms || 0) / 1000).toFixed(1)} s`);
  if (answer.model) parts.push(answer.model);
  $(".timing", msg).textContent = parts.join(" · ");
  $(".actions", msg).hidden = false;
}

function showError(msg, message, retry) {
  $(".progress", msg).hidden = true;
  $(".answer", msg).classList.remove("streaming");
  msg.classList.add("failed");
  const box = el("div", "error-box", "出错了：" + message);
  box.setAttribute("role", "alert");
  if (retry) box.appendChild(button("重试", "ghost small", retry));
  $(".notes", msg).appendChild(box);
}

// Asks exchange `index` (a new one, or an existing one for 重新生成) and renders into its element.
async function runExchange(index) {
  const ex = state.exchanges[index];
  const msg = ex.el;
  msg.className = "msg assistant";
  for (const sel of [".notes", ".evidence-list", ".citation-list", ".answer"]) $(sel, msg).innerHTML = "";
  $(".sources", msg).hidden = true;
  $(".sources", msg).open = true;
  $(".citation-list", msg).hidden = true;
  $(".actions", msg).hidden = true;
  $(".progress", msg).hidden = false;
  $(".progress-text", msg).textContent = "正在检索相关报告…";
  msg.setAttribute("aria-busy", "true");
  ex.answer = null;
  ex.full = null;
  saveConversation();

  state.busy = true;
  state.controller = new AbortController();
  updateSend();
  const answerBox = $(".answer", msg);
  let gotAnswer = false;
  try {
    const res = await api("/v1/ask/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ question: ex.question, history: historyBefore(index), mode: $("#mode").value }),
      signal: state.controller.signal,
    });
    if (!res.ok) {
      const text = await errorMessage(res);
      const wait = res.headers.get("Retry-After");
      showError(msg, wait ? `${text}（约 ${wait} 秒后再试）` : text, () => runExchange(index));
      return;
    }
    let draft = "";
    let liveTable = null;
    const rowCitations = new Map();
    for await (const { event, data } of readSSE(res)) {
      if (event === "comment") {
        const m = /^queued (\d+)/.exec(data);
        if (m) $(".progress-text", msg).textContent = `排队中：前面还有 ${m[1]} 个问题…`;
        else if (!$(".sources", msg).hidden) $(".progress-text", msg).textContent = "正在生成回答…";
        else $(".progress-text", msg).textContent = "正在检索相关报告…";
        continue;
      }
      if (event === "evidence") {
        showEvidence(msg, data.evidence);
        $(".progress-text", msg).textContent = data.evidence.length ? "正在生成回答…" : "正在整理回答…";
      } else if (event === "row") {
        // a checked table row, before the final answer: shown at once, chips already clickable
        if (!liveTable) {
          answerBox.innerHTML = "";
          liveTable = tableElement(data.columns);
          answerBox.appendChild(liveTable);
        }
        for (const c of data.citations) rowCitations.set(c.n, c);
        appendTableRow(liveTable, data.row, rowCitations, data.citations);
        $(".progress-text", msg).textContent = `已核对 ${$("tbody", liveTable).rows.length} 行…`;
      } else if (event === "token") {
        draft += data.text;
        answerBox.textContent = draft;
        answerBox.classList.add("streaming");
      } else if (event === "answer") {
        gotAnswer = true;
        ex.answer = data.answer.answer;
        ex.full = data.answer;
        showFinal(msg, data.answer);
        saveConversation();
      } else if (event === "error") {
        gotAnswer = true;
        showError(msg, data.error.message, () => runExchange(index));
      }
      scrollToBottom();
    }
    if (!gotAnswer) showError(msg, "连接中断，回答不完整", () => runExchange(index));
  } catch (err) {
    if (err.name === "AbortError") {
      answerBox.classList.remove("streaming");
      $(".progress", msg).hidden = true;
      $(".notes", msg).appendChild(el("div", null, "已停止。"));
      $(".actions", msg).hidden = false;
    } else {
      showError(msg, err.message || String(err), () => runExchange(index));
    }
  } finally {
    msg.removeAttribute("aria-busy");
    state.busy = false;
    state.controller = null;
    updateSend();
    markLastRegenerable();
    scrollToBottom();
  }
}

function markLastRegenerable() {
  state.exchanges.forEach((ex, i) => {
    $(".regen", ex.el).hidden = i !== state.exchanges.length - 1;
  });
}

// Adds a question and an (empty) answer to the page and to state.exchanges.
function addExchange(question) {
  const user = el("article", "msg user");
  user.setAttribute("aria-label", "问题");
  user.appendChild(el("div", "bubble", question));
  $("#messages").appendChild(user);
  const msg = $("#assistant-template").content.firstElementChild.cloneNode(true);
  $("#messages").appendChild(msg);
  const ex = { question, answer: null, full: null, el: msg };
  state.exchanges.push(ex);
  $(".copy", msg).addEventListener("click", (e) => {
    copyText(ex.full ? answerAsMarkdown(ex.full) : $(".answer", msg).textContent, e.currentTarget);
  });
  $(".regen", msg).addEventListener("click", () => {
    if (!state.busy) runExchange(state.exchanges.indexOf(ex));
  });
  return ex;
}

function ask(question) {
  question = question.trim();
  if (!question || state.busy || !state.ready) return;
  $("#welcome").hidden = true;
  if (!state.conv) {
    const now = Date.now();
    state.conv = { id: `c${now.toString(36)}${Math.random().toString(36).slice(2, 6)}`, title: "",
      renamed: false, created: now, updated: now };
  }
  addExchange(question);
  scrollToBottom();
  runExchange(state.exchanges.length - 1);
}

// ---------------------------------------------------------------- source reader

const reader = {
  data: null,       // the section shown (GET …/sections/{id})
  focus: null,      // the span being read: {char_start, char_end} or null
  group: [],        // the other citations of the same answer, highlighted lightly where they fall
  opener: null,     // the element to give focus back to on close
  cache: new Map(), // url → section JSON (emptied when the library changes)
};

async function fetchSection(reportId, sectionId, expand) {
  const url = `/v1/reports/${encodeURIComponent(reportId)}/sections/${encodeURIComponent(sectionId)}` +
    (expand ? "?expand=chapter" : "");
  if (!reader.cache.has(url)) reader.cache.set(url, await getJSON(url));
  return reader.cache.get(url);
}

function holds(data, span) {
  const ps = data.paragraphs;
  return ps.length && span.char_start >= ps[0].char_start && span.char_end <= ps[ps.length - 1].char_end;
}

// Opens a cited span in its whole chapter (the top-level section holding it), highlighted and scrolled into
// view; `group` are the answer's other citations, marked too where they fall in what is shown. A citation
// into the section already shown only moves the highlight.
async function openSource(src, group = []) {
  const box = $("#reader");
  if (box.hidden) reader.opener = document.activeElement;
  box.hidden = false;
  document.body.classList.add("reader-open");
  const span = src.char_start != null ? { char_start: src.char_start, char_end: src.char_end, n: src.n } : null;
  reader.group = group.filter((c) => c.report_id === src.report_id);
  if (reader.data && reader.data.report.id === src.report_id && span && holds(reader.data, span)) {
    reader.focus = span;
    renderReader();
    focusReader();
    return;
  }
  await showSection(src.report_id, src.section_id, span, true, src);
  focusReader();
}

function focusReader() {
  $("#reader-body").focus({ preventScroll: true });
}

async function showSection(reportId, sectionId, span, expand, src = null) {
  const body = $("#reader-body");
  if (src) {
    $("#reader-title").textContent = src.report_title;
    $("#reader-path").textContent = (src.section_path || []).join(" › ");
  }
  body.innerHTML = "";
  body.appendChild(el("div", "progress")).append(el("span", "spinner"), "正在载入原文…");
  try {
    reader.data = await fetchSection(reportId, sectionId, expand);
    reader.focus = span;
    renderReader();
  } catch (err) {
    reader.data = null;
    body.innerHTML = "";
    body.appendChild(el("p", "error-box", "无法载入原文：" + err.message));
  }
}

function renderReader() {
  const data = reader.data;
  $("#reader-title").textContent = data.report.title;
  // breadcrumb: the sections from the top level down to the one asked for, each opens on its own
  const path = $("#reader-path");
  path.innerHTML = "";
  const trail = data.trail || [];
  if (!trail.length) path.appendChild(el("span", "crumb", data.section.heading || "开头部分"));
  trail.forEach((ref, i) => {
    if (i) path.appendChild(el("span", "crumb-sep", "›"));
    const last = i === trail.length - 1;
    const crumb = button(ref.heading || "开头部分", "crumb", () => showSection(data.report.id, ref.id, reader.focus,
      false).then(focusReader), "只看这一节");
    if (last) crumb.setAttribute("aria-current", "location");
    path.appendChild(crumb);
  });
  renderParagraphs($("#reader-body"), data);
  for (const [id, ref, arrow] of [["#reader-prev", data.previous, "‹ "], ["#reader-next", data.next, " ›"]]) {
    const b = $(id);
    b.hidden = !ref;
    if (!ref) continue;
    const label = ref.heading || "开头部分";
    b.textContent = id === "#reader-prev" ? arrow + label : label + arrow;
    b.title = id === "#reader-prev" ? "上一节：" + label : "下一节：" + label;
    b.onclick = () => showSection(data.report.id, ref.id, reader.focus, false).then(focusReader);
  }
  $("#reader-where").textContent = reader.focus && reader.focus.n ? `引用 [${reader.focus.n}]` : "";
  const mark = $("mark.quote", $("#reader-body"));
  if (mark) mark.scrollIntoView({ block: "center" });
  else $("#reader-body").scrollTop = 0;
}

// Paragraphs of the section; the focused span is <mark class="quote">, the answer's other citations that
// fall here are <mark class="cited"> (a click reads that one instead).
function renderParagraphs(body, data) {
  body.innerHTML = "";
  const spans = [];
  if (reader.focus) spans.push(Object.assign({ cls: "quote" }, reader.focus));
  for (const c of reader.group) {
    if (!reader.focus || c.char_start !== reader.focus.char_start || c.char_end !== reader.focus.char_end) {
      spans.push({ cls: "cited", char_start: c.char_start, char_end: c.char_end, n: c.n });
    }
  }
  for (const p of data.paragraphs) {
    const node = el("p", p.kind);
    node.dataset.line = p.line;
    node.appendChild(el("span", "line-no", String(p.line)));
    // label each character with the first span covering it, then emit runs
    const labels = new Array(p.text.length).fill(null);
    for (const s of spans) {
      const a = Math.max(p.char_start, s.char_start) - p.char_start;
      const b = Math.min(p.char_end, s.char_end) - p.char_start;
      for (let i = Math.max(a, 0); i < Math.min(b, p.text.length); i++) if (!labels[i]) labels[i] = s;
    }
    let i = 0;
    while (i < p.text.length) {
      let j = i;
      while (j < p.text.length && labels[j] === labels[i]) j++;
      const s = labels[i];
      const text = p.text.slice(i, j);
      if (!s) node.appendChild(document.createTextNode(text));
      else {
        const mark = el("mark", s.cls, text);
        if (s.cls === "cited") {
          mark.title = `引用 [${s.n}]，点击查看`;
          mark.dataset.n = s.n;
          mark.addEventListener("click", () => { reader.focus = s; renderReader(); });
        }
        node.appendChild(mark);
      }
      i = j;
    }
    body.appendChild(node);
  }
  if (!data.paragraphs.length) body.appendChild(el("p", "muted", "这一节没有正文。"));
}

function closeReader(restoreFocus = true) {
  const box = $("#reader");
  if (box.hidden) return;
  box.hidden = true;
  document.body.classList.remove("reader-open");
  if (restoreFocus && reader.opener && document.contains(reader.opener)) reader.opener.focus();
  reader.opener = null;
}

// ---------------------------------------------------------------- report library: browse, upload, delete

function fillSelect(select, values) {
  const current = select.value;
  select.length = 1;
  for (const v of values) select.add(new Option(v, v));
  select.value = current;
}

async function loadReports() {
  const list = $("#report-list");
  const params = new URLSearchParams();
  for (const [key, id] of [["period", "#f-period"], ["kind", "#f-kind"], ["level", "#f-level"], ["body", "#f-body"]]) {
    const v = $(id).value.trim();
    if (v) params.set(key, v);
  }
  list.innerHTML = '<div class="count"><span class="spinner"></span> 载入中…</div>';
  try {
    const data = await getJSON("/v1/reports?" + params);
    if (!state.reportsLoaded) {
      fillSelect($("#f-period"), data.facets.periods);
      fillSelect($("#f-kind"), data.facets.kinds);
      fillSelect($("#f-level"), data.facets.levels);
      const bodies = $("#body-list");
      bodies.innerHTML = "";
      for (const b of data.facets.bodies) bodies.appendChild(new Option(b));
      state.reportsLoaded = true;
    }
    list.innerHTML = "";
    list.appendChild(el("div", "count", `共 ${data.total} 份报告`));
    for (const r of data.reports) {
      const item = el("div", "report-item");
      item.dataset.id = r.id;
      item.tabIndex = 0;
      item.setAttribute("role", "button");
      item.appendChild(el("div", "title", r.title));
      item.appendChild(el("div", "meta", [r.body, r.period, r.kind, `${r.n_sections} 节`].filter(Boolean).join(" · ")));
      const pick = () => {
        for (const x of $$(".report-item.active", list)) x.classList.remove("active");
        item.classList.add("active");
        showReport(r.id);
      };
      item.addEventListener("click", pick);
      item.addEventListener("keydown", (e) => { if (e.key === "Enter") pick(); });
      list.appendChild(item);
    }
  } catch (err) {
    list.innerHTML = "";
    list.appendChild(el("div", "count error-box", "载入失败：" + err.message));
  }
}

async function showReport(id) {
  const box = $("#report-detail");
  box.innerHTML = '<div class="progress"><span class="spinner"></span>载入中…</div>';
  try {
    const r = await getJSON(`/v1/reports/${encodeURIComponent(id)}`);
    box.innerHTML = "";
    const head = el("div", "detail-head");
    const titles = el("div");
    titles.appendChild(el("h2", null, r.title));
    titles.appendChild(el("div", "muted meta",
      [r.source_file + " 第" + r.title_line + "行", r.body, r.period].filter(Boolean).join(" · ")));
    head.append(titles, button("删除报告", "delete-report ghost small danger", () => deleteReport(r),
                               "从报告库中删除这份报告"));
    box.appendChild(head);
    const tree = el("ul", "tree");
    const add = (node, ul) => {
      const li = el("li");
      const a = button(node.heading || "（开头）", "link", () => {
        reader.opener = a;
        $("#reader").hidden = false;
        document.body.classList.add("reader-open");
        reader.group = [];
        showSection(r.id, node.id, null, false, { report_title: r.title, section_path: node.path })
          .then(focusReader);
      });
      li.appendChild(a);
      if (node.children.length) {
        const sub = el("ul");
        for (const c of node.children) add(c, sub);
        li.appendChild(sub);
      }
      ul.appendChild(li);
    };
    if (r.sections.n_paragraphs) add(Object.assign({}, r.sections, { children: [] }), tree);
    for (const c of r.sections.children) add(c, tree);
    box.appendChild(tree);
  } catch (err) {
    box.innerHTML = "";
    box.appendChild(el("p", "error-box", "载入失败：" + err.message));
  }
}

// A modal yes/no question; resolves true on 确定.
function confirmDialog(text, okLabel = "确定") {
  const dialog = $("#confirm");
  $("#confirm-text").textContent = text;
  $("#confirm-ok").textContent = okLabel;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

function libraryChanged() {
  reader.cache.clear();
  reader.data = null;
  state.reportsLoaded = false;
  loadReports();
}

async function deleteReport(r) {
  if (!await confirmDialog(`删除报告《${r.title}》？之后的回答不再引用它；原文件需要重新上传才能恢复。`, "删除")) {
    return;
  }
  const box = $("#report-detail");
  const res = await api(`/v1/reports/${encodeURIComponent(r.id)}`, { method: "DELETE" });
  box.innerHTML = "";
  if (res.ok) {
    box.appendChild(el("p", "notice", `已删除《${r.title}》。`));
    libraryChanged();
  } else {
    box.appendChild(el("p", "error-box", "删除失败：" + await errorMessage(res)));
  }
}

const STAGES = { uploading: "上传中", parsing: "解析中…", parsed: "解析完成", embedding: "向量化中…",
  saving: "保存中…" };
// The steps a file goes through, as the row's stepper shows them: each is marked when the server reports it
// (data-seen), every earlier one done.
const STEPS = [["uploading", "上传"], ["parsing", "解析"], ["embedding", "向量化"], ["saving", "保存"]];

function markStep(li, stage) {
  const key = stage === "parsed" ? "parsing" : stage;
  const steps = $$(".steps li", li);
  const at = steps.findIndex((s) => s.dataset.step === key);
  if (at < 0) return;
  steps[at].dataset.seen = "";
  steps.forEach((s, i) => {
    s.classList.toggle("done", i < at || (i === at && stage === "parsed"));
    s.classList.toggle("active", i === at && stage !== "parsed");
  });
}

const REFUSALS = { 413: "文件太大", 409: "与库中文件冲突", 422: "文件被拒绝", 403: "无权上传", 503: "服务未就绪" };

function sizeText(n) {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} KB` : `${n} B`;
}

// Files are sent one at a time, each its own atomic change: a refused file leaves the others in.
const uploadQueue = [];
let uploading = false;

function queueUploads(files) {
  for (const file of files) {
    const li = el("li", "upload-item");
    li.appendChild(el("span", "upload-name", file.name));
    li.appendChild(el("span", "upload-size muted", sizeText(file.size)));
    const status = el("span", "upload-status", "等待中");
    status.setAttribute("role", "status");
    const bar = el("progress", "upload-bar");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", file.name + " 进度");
    const steps = el("ol", "steps");
    steps.setAttribute("aria-label", "步骤");
    for (const [key, label] of STEPS) {
      const step = el("li", null, label);
      step.dataset.step = key;
      steps.appendChild(step);
    }
    li.append(status, bar, steps, el("div", "upload-result"));
    $("#upload-list").prepend(li);
    uploadQueue.push({ file, li, replace: false });
  }
  if (!uploading) drainUploads();
}

async function drainUploads() {
  uploading = true;
  let changed = false;
  while (uploadQueue.length) {
    const job = uploadQueue.shift();
    try {
      changed = (await uploadOne(job)) || changed;
    } catch (err) {
      finishUpload(job.li, "failed", "上传失败：" + (err.message || err));
    }
  }
  uploading = false;
  if (changed) libraryChanged();
}

function finishUpload(li, kind, text, extra) {
  li.className = "upload-item " + kind;
  for (const step of $$(".steps li", li)) {
    step.classList.remove("active");
    // done: every step is; unchanged: nothing was embedded or saved; refused: the steps reached stay marked
    if (kind === "done" || (kind === "unchanged" && "seen" in step.dataset)) step.classList.add("done");
    else if (kind === "unchanged") step.classList.add("skipped");
  }
  $(".upload-status", li).textContent = { done: "完成", unchanged: "未改变", failed: "已拒绝" }[kind];
  $(".upload-bar", li).hidden = true;
  const result = $(".upload-result", li);
  result.innerHTML = "";
  result.appendChild(el("div", null, text));
  if (extra) result.appendChild(extra);
}

// One file through POST /v1/reports/stream: upload progress from XHR, then the server's stages as SSE.
// Resolves true when the library changed.
function uploadOne(job, retried = false) {
  const { file, li } = job;
  const status = $(".upload-status", li);
  const bar = $(".upload-bar", li);
  li.className = "upload-item active";
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/reports/stream");
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    let seen = 0, buffer = "", settled = false;
    const settle = (changed) => { if (!settled) { settled = true; resolve(changed); } };
    const onEvent = ({ event, data }) => {
      if (event === "stage") {
        status.textContent = data.stage === "parsed" && data.reports
          ? `解析完成：${data.reports.length} 份报告` : STAGES[data.stage] || data.stage;
        markStep(li, data.stage);
        bar.removeAttribute("value");  // indeterminate while the server works
      } else if (event === "done") {
        const found = data.files.flatMap((f) => f.titles || []);
        const unchanged = !data.changed;
        const list = el("ul", "found");
        for (const t of found) list.appendChild(el("li", null, t));
        finishUpload(li, unchanged ? "unchanged" : "done", unchanged
          ? `库中已有内容相同的文件，没有改动（${found.length} 份报告）。`
          : `找到 ${found.length} 份报告，已加入报告库：`, found.length && !unchanged ? list : null);
        settle(!unchanged);
      } else if (event === "error") {
        refused(data.error.status, data.error.message);
      }
    };
    const refused = (code, message) => {
      let extra = null;
      if (code === 409 && /replace/.test(message) && !job.replace) {
        extra = button("替换库中的同名文件", "ghost small", () => {
          job.replace = true;
          uploadQueue.push(job);
          if (!uploading) drainUploads();
        });
      }
      finishUpload(li, "failed", `${REFUSALS[code] || "上传失败"}：${message}`, extra);
      settle(false);
    };
    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      bar.value = Math.round((100 * e.loaded) / e.total);
      status.textContent = `${STAGES.uploading} ${bar.value}%`;
    };
    xhr.onprogress = () => {
      if (xhr.status !== 200) return;
      const text = xhr.responseText;
      buffer = parseSSE(buffer + text.slice(seen), onEvent);
      seen = text.length;
    };
    xhr.onload = async () => {
      if (xhr.status === 401 && !retried && await askForKey()) {
        settle(await uploadOne(job, true));
        return;
      }
      if (xhr.status !== 200) {
        let message = `HTTP ${xhr.status}`;
        try { message = JSON.parse(xhr.responseText).error.message; } catch (_) { /* not JSON */ }
        refused(xhr.status, message);
        return;
      }
      xhr.onprogress();
      if (!settled) finishUpload(li, "failed", "连接中断：不知道这个文件是否已加入，请刷新报告库查看。");
      settle(false);
    };
    xhr.onerror = () => reject(new Error("无法连接服务"));
    const form = new FormData();
    form.append("files", file, file.name);
    if (job.replace) form.append("replace", "true");
    status.textContent = STAGES.uploading;
    markStep(li, "uploading");
    xhr.send(form);
  });
}

// ---------------------------------------------------------------- wiring

function switchView(view) {
  for (const tab of $$(".tab")) {
    const on = tab.dataset.view === view;
    tab.classList.toggle("active", on);
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
  }
  $("#chat-view").hidden = view !== "chat";
  $("#reports-view").hidden = view !== "reports";
  if (view === "reports" && !state.reportsLoaded) loadReports();
}

function closeSidebar() {
  document.body.classList.remove("sidebar-open");
  $("#sidebar-toggle").setAttribute("aria-expanded", "false");
  $("#sidebar-backdrop").hidden = true;
}

document.addEventListener("DOMContentLoaded", () => {
  const input = $("#question");
  $("#ask-form").addEventListener("submit", (e) => {
    e.preventDefault();
    if (state.busy) {
      if (state.controller) state.controller.abort();
      return;
    }
    const q = input.value;
    if (!q.trim()) return;
    input.value = "";
    ask(q);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $("#ask-form").requestSubmit();
    }
  });
  for (const b of $$(".example")) b.addEventListener("click", () => ask(b.textContent));
  $("#new-chat").addEventListener("click", () => {
    newConversation();
    switchView("chat");
    input.focus();
  });
  const tabs = $$(".tab");
  for (const tab of tabs) {
    tab.addEventListener("click", () => switchView(tab.dataset.view));
    tab.addEventListener("keydown", (e) => {  // a tablist: arrows move between the tabs
      if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
      const next = tabs[(tabs.indexOf(tab) + (e.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
      switchView(next.dataset.view);
      next.focus();
    });
  }
  $("#sidebar-toggle").addEventListener("click", () => {
    const open = !document.body.classList.contains("sidebar-open");
    document.body.classList.toggle("sidebar-open", open);
    $("#sidebar-toggle").setAttribute("aria-expanded", String(open));
    $("#sidebar-backdrop").hidden = !open;
    if (open) { const first = $("#conversation-list .conv-open"); if (first) first.focus(); }
  });
  $("#sidebar-backdrop").addEventListener("click", closeSidebar);
  // 取消 is a plain button, so Enter in a dialog's field submits with 确定
  for (const b of $$("dialog [data-close]")) b.addEventListener("click", () => b.closest("dialog").close(b.dataset.close));
  $("#reader-close").addEventListener("click", () => closeReader());
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape" || $("dialog[open]")) return;  // an open dialog closes itself on Esc
    if (!$("#reader").hidden) closeReader();
    else if (document.body.classList.contains("sidebar-open")) { closeSidebar(); $("#sidebar-toggle").focus(); }
  });

  // upload: the file picker, or files dropped anywhere on the library view
  $("#pick-files").addEventListener("click", () => $("#file-input").click());
  $("#file-input").addEventListener("change", (e) => {
    queueUploads(Array.from(e.target.files));
    e.target.value = "";
  });
  const zone = $("#drop-zone");
  const view = $("#reports-view");
  view.addEventListener("dragover", (e) => {
    if (!e.dataTransfer || !Array.from(e.dataTransfer.types).includes("Files")) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "copy";
    zone.classList.add("over");
  });
  view.addEventListener("dragleave", (e) => { if (!view.contains(e.relatedTarget)) zone.classList.remove("over"); });
  view.addEventListener("drop", (e) => {
    zone.classList.remove("over");
    if (!e.dataTransfer || !e.dataTransfer.files.length) return;
    e.preventDefault();
    queueUploads(Array.from(e.dataTransfer.files));
  });

  let filterTimer = null;
  $("#report-filters").addEventListener("input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(loadReports, 250);
  });
  $("#report-filters").addEventListener("submit", (e) => e.preventDefault());
  window.addEventListener("storage", (e) => { if (e.key === STORE_KEY) renderConversationList(); });
  renderConversationList();
  updateSend();
  pollReady();
  input.focus();
});
