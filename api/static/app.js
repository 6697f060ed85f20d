// The chat page: vanilla JS, no build step, nothing fetched from outside this server.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const MAX_HISTORY_TURNS = 20;
const MAX_CONVERSATION_CHARS = 24000; // question + history, as api/schemas.py

const state = {
  ready: false,
  busy: false,
  controller: null,       // AbortController of the running question
  exchanges: [],          // [{question, answer (final text), el}]
  reportsLoaded: false,
};

// ---------------------------------------------------------------- API access

function apiKey() { return localStorage.getItem("rag-api-key") || ""; }

async function api(path, options = {}, retried = false) {
  const headers = Object.assign({}, options.headers || {});
  if (apiKey()) headers["Authorization"] = "Bearer " + apiKey();
  const res = await fetch(path, Object.assign({}, options, { headers }));
  if (res.status === 401 && !retried) {
    const key = window.prompt("服务需要 API 密钥，请输入：");
    if (key) {
      localStorage.setItem("rag-api-key", key.trim());
      return api(path, options, true);
    }
  }
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

// Server-Sent Events over a POST (EventSource only does GET): yields {event, data}.
async function* readSSE(res) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) yield { event: "comment", data: line.slice(1).trim() };  // `: queued 2`
        else if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
    }
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
      const box = document.createElement("div");
      box.className = "msg assistant failed";
      box.innerHTML = '<div class="error-box"></div>';
      $(".error-box", box).textContent = "服务加载失败：" + body.detail;
      $("#messages").appendChild(box);
      return;
    }
  } catch (_) {
    status.className = "status failed";
    status.textContent = "无法连接服务";
  }
  setTimeout(pollReady, 2000);
}

// ---------------------------------------------------------------- chat

function escapeHTML(s) {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function sourceLabel(src) {
  return [src.report_title, ...(src.section_path || [])].join(" › ");
}

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

function addUserMessage(text) {
  const el = document.createElement("article");
  el.className = "msg user";
  const bubble = document.createElement("div");
  bubble.className = "bubble";
  bubble.textContent = text;
  el.appendChild(bubble);
  $("#messages").appendChild(el);
  return el;
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
  renderInline(container, text, new Map(citations.map((c) => [c.n, c])));
}

function renderInline(container, text, byN) {
  const re = /\*\*([^*]+?)\*\*|\[(\d+)\]/g;
  let last = 0, m;
  while ((m = re.exec(text)) !== null) {
    container.appendChild(document.createTextNode(text.slice(last, m.index)));
    last = re.lastIndex;
    if (m[1] !== undefined) {
      const strong = document.createElement("strong");
      renderInline(strong, m[1], byN);
      container.appendChild(strong);
      continue;
    }
    const cit = byN.get(Number(m[2]));
    if (!cit) {
      container.appendChild(document.createTextNode(m[0]));
      continue;
    }
    const chip = document.createElement("button");
    chip.type = "button";
    chip.className = "cite";
    chip.textContent = m[2];
    chip.dataset.n = m[2];
    chip.title = sourceLabel(cit);
    chip.addEventListener("click", () => openSource(cit, cit.quote));
    container.appendChild(chip);
  }
  container.appendChild(document.createTextNode(text.slice(last)));
}

// ---------------------------------------------------------------- tables (cross-report answers)

// A cell's text with its citation numbers, as the Markdown and CSV copies carry them.
function cellText(cell) { return cell.text + cell.citations.map((n) => `[${n}]`).join(""); }

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

// An empty <table> with the given columns, rows appended by appendTableRow.
function tableElement(columns) {
  const wrap = document.createElement("div");
  wrap.className = "answer-table";
  const table = document.createElement("table");
  const head = table.createTHead().insertRow();
  for (const c of columns) {
    const th = document.createElement("th");
    th.textContent = c;
    head.appendChild(th);
  }
  table.createTBody();
  wrap.appendChild(table);
  return wrap;
}

function appendTableRow(wrap, cells, byN) {
  const tr = $("tbody", wrap).insertRow();
  for (const cell of cells) {
    const td = tr.insertCell();
    renderInline(td, cellText(cell), byN);
  }
}

// The final table answer: the count line, the table with citation chips, copy-as-Markdown and CSV download.
function renderTable(container, answer) {
  const byN = new Map(answer.citations.map((c) => [c.n, c]));
  container.innerHTML = "";
  const intro = document.createElement("div");
  intro.className = "table-intro";
  intro.textContent = answer.answer.split("\n\n")[0];
  container.appendChild(intro);
  const wrap = tableElement(answer.table.columns);
  for (const cells of answer.table.rows) appendTableRow(wrap, cells, byN);
  container.appendChild(wrap);
  const tools = document.createElement("div");
  tools.className = "table-tools";
  const md = document.createElement("button");
  md.type = "button";
  md.className = "copy-md ghost small";
  md.textContent = "复制 Markdown";
  md.addEventListener("click", (e) => copyText(tableMarkdown(answer.table), e.currentTarget, "复制 Markdown"));
  const csv = document.createElement("button");
  csv.type = "button";
  csv.className = "download-csv ghost small";
  csv.textContent = "下载 CSV";
  csv.addEventListener("click", () => {
    // a BOM, so spreadsheet programs read the Chinese text as UTF-8
    const blob = new Blob(["\ufeff" + tableCSV(answer.table)], { type: "text/csv;charset=utf-8" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "answer-table.csv";
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  });
  tools.append(md, csv);
  container.appendChild(tools);
}

function sourceItem(src, text, onClick) {
  const li = document.createElement("li");
  li.innerHTML = `<span class="src-title"></span><span class="src-excerpt"></span>`;
  li.querySelector(".src-title").textContent = sourceLabel(src);
  li.querySelector(".src-excerpt").textContent = text.replace(/\s+/g, " ");
  li.tabIndex = 0;
  li.addEventListener("click", onClick);
  li.addEventListener("keydown", (e) => { if (e.key === "Enter") onClick(); });
  return li;
}

function showEvidence(el, evidence) {
  const box = $(".sources", el);
  const list = $(".evidence-list", box);
  list.innerHTML = "";
  for (const ev of evidence) {
    list.appendChild(sourceItem(ev, ev.text, () => openSource(ev, ev.text)));
  }
  $(".sources-title", box).textContent = evidence.length ? `参考来源（${evidence.length}）` : "没有检索到相关段落";
  box.hidden = false;
}

function showFinal(el, answer) {
  const answerBox = $(".answer", el);
  answerBox.classList.remove("streaming");
  $(".progress", el).hidden = true;
  el.classList.toggle("refused", answer.refused);
  if (answer.evidence && answer.evidence.length) showEvidence(el, answer.evidence);
  $(".sources", el).open = false;  // the answer's own citations list what it used; the rest folds away
  if (answer.table && !answer.refused) renderTable(answerBox, answer);
  else renderAnswerText(answerBox, answer.answer, answer.citations);
  if (answer.refused) {
    const label = document.createElement("div");
    label.className = "refusal-label";
    label.textContent = "报告中未找到依据";
    answerBox.prepend(label);
  }
  const notes = $(".notes", el);
  notes.innerHTML = "";
  if (answer.fallback) {
    const p = document.createElement("div");
    p.textContent = "说明：" + answer.fallback;
    notes.appendChild(p);
  }
  if (answer.unsupported && answer.unsupported.length) {
    const d = document.createElement("details");
    d.innerHTML = `<summary>已删除 ${answer.unsupported.length} 句没有依据的内容</summary>`;
    for (const u of answer.unsupported) {
      const p = document.createElement("div");
      p.textContent = `「${u.text}」（${u.reason}）`;
      d.appendChild(p);
    }
    notes.appendChild(d);
  }
  const list = $(".citation-list", el);
  list.innerHTML = "";
  if (answer.citations.length) {
    const title = document.createElement("div");
    title.className = "list-title";
    title.textContent = answer.refused ? "最接近的章节" : "引用";
    list.appendChild(title);
    for (const c of answer.citations) {
      const li = sourceItem(c, c.quote, () => openSource(c, c.quote));
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
  $(".timing", el).textContent = parts.join(" · ");
  $(".actions", el).hidden = false;
}

function showError(el, message, retry) {
  $(".progress", el).hidden = true;
  $(".answer", el).classList.remove("streaming");
  el.classList.add("failed");
  const box = document.createElement("div");
  box.className = "error-box";
  box.textContent = "出错了：" + message;
  if (retry) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "ghost small";
    b.textContent = "重试";
    b.addEventListener("click", retry);
    box.appendChild(b);
  }
  $(".notes", el).appendChild(box);
}

async function copyText(text, button, label = "复制") {
  try {
    await navigator.clipboard.writeText(text);
  } catch (_) {  // no clipboard API outside secure contexts: fall back to a hidden textarea
    const ta = document.createElement("textarea");
    ta.value = text;
    document.body.appendChild(ta);
    ta.select();
    document.execCommand("copy");
    ta.remove();
  }
  button.textContent = "已复制";
  setTimeout(() => { button.textContent = label; }, 1500);
}

function answerAsText(answer) {
  let text = answer.answer;
  if (answer.citations.length) {
    text += "\n\n" + (answer.refused ? "最接近的章节：" : "来源：") + "\n" +
      answer.citations.map((c) => `[${c.n}] ${sourceLabel(c)}「${c.quote}」`).join("\n");
  }
  return text;
}

// Asks exchange `index` (a new one, or an existing one for 重新生成) and renders into its element.
async function runExchange(index) {
  const ex = state.exchanges[index];
  const el = ex.el;
  el.className = "msg assistant";
  for (const sel of [".notes", ".evidence-list", ".citation-list", ".answer"]) $(sel, el).innerHTML = "";
  $(".sources", el).hidden = true;
  $(".sources", el).open = true;
  $(".citation-list", el).hidden = true;
  $(".actions", el).hidden = true;
  $(".progress", el).hidden = false;
  $(".progress-text", el).textContent = "正在检索相关报告…";
  ex.answer = null;

  state.busy = true;
  state.controller = new AbortController();
  updateSend();
  const answerBox = $(".answer", el);
  let gotAnswer = false;
  try {
    const res = await api("/v1/ask/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ question: ex.question, history: historyBefore(index), mode: $("#mode").value }),
      signal: state.controller.signal,
    });
    if (!res.ok) {
      const msg = await errorMessage(res);
      const wait = res.headers.get("Retry-After");
      showError(el, wait ? `${msg}（约 ${wait} 秒后再试）` : msg, () => runExchange(index));
      return;
    }
    let draft = "";
    let liveTable = null;
    const rowCitations = new Map();
    for await (const { event, data } of readSSE(res)) {
      if (event === "comment") {
        const m = /^queued (\d+)/.exec(data);
        if (m) $(".progress-text", el).textContent = `排队中：前面还有 ${m[1]} 个问题…`;
        else if (!$(".sources", el).hidden) $(".progress-text", el).textContent = "正在生成回答…";
        else $(".progress-text", el).textContent = "正在检索相关报告…";
        continue;
      }
      if (event === "evidence") {
        showEvidence(el, data.evidence);
        $(".progress-text", el).textContent = data.evidence.length ? "正在生成回答…" : "正在整理回答…";
      } else if (event === "row") {
        // a checked table row, before the final answer: shown at once, chips already clickable
        if (!liveTable) {
          answerBox.innerHTML = "";
          liveTable = tableElement(data.columns);
          answerBox.appendChild(liveTable);
        }
        for (const c of data.citations) rowCitations.set(c.n, c);
        appendTableRow(liveTable, data.row, rowCitations);
        $(".progress-text", el).textContent = `已核对 ${$("tbody", liveTable).rows.length} 行…`;
      } else if (event === "token") {
        draft += data.text;
        answerBox.textContent = draft;
        answerBox.classList.add("streaming");
      } else if (event === "answer") {
        gotAnswer = true;
        ex.answer = data.answer.answer;
        ex.full = data.answer;
        showFinal(el, data.answer);
      } else if (event === "error") {
        gotAnswer = true;
        showError(el, data.error.message, () => runExchange(index));
      }
      scrollToBottom();
    }
    if (!gotAnswer) showError(el, "连接中断，回答不完整", () => runExchange(index));
  } catch (err) {
    if (err.name === "AbortError") {
      answerBox.classList.remove("streaming");
      $(".progress", el).hidden = true;
      const n = document.createElement("div");
      n.textContent = "已停止。";
      $(".notes", el).appendChild(n);
      $(".actions", el).hidden = false;
    } else {
      showError(el, err.message || String(err), () => runExchange(index));
    }
  } finally {
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

function ask(question) {
  question = question.trim();
  if (!question || state.busy || !state.ready) return;
  $("#welcome").hidden = true;
  addUserMessage(question);
  const el = $("#assistant-template").content.firstElementChild.cloneNode(true);
  $("#messages").appendChild(el);
  const index = state.exchanges.length;
  state.exchanges.push({ question, answer: null, el });
  $(".copy", el).addEventListener("click", (e) => {
    const ex = state.exchanges[index];
    copyText(ex.full ? answerAsText(ex.full) : $(".answer", el).textContent, e.currentTarget);
  });
  $(".regen", el).addEventListener("click", () => { if (!state.busy) runExchange(index); });
  scrollToBottom();
  runExchange(index);
}

// ---------------------------------------------------------------- source reader

async function openSource(src, quote) {
  const reader = $("#reader");
  reader.hidden = false;
  document.body.classList.add("reader-open");
  $("#reader-title").textContent = src.report_title;
  $("#reader-path").textContent = (src.section_path || []).join(" › ");
  const body = $("#reader-body");
  body.innerHTML = '<div class="progress"><span class="spinner"></span>正在载入原文…</div>';
  try {
    const data = await getJSON(`/v1/reports/${encodeURIComponent(src.report_id)}/sections/${encodeURIComponent(src.section_id)}`);
    renderSection(body, data, src.char_start, src.char_end);
    if (!$("#reader-path").textContent) $("#reader-path").textContent = (data.section.path || []).join(" › ");
    const mark = $("mark.quote", body);
    if (mark) mark.scrollIntoView({ block: "center" });
  } catch (err) {
    body.innerHTML = "";
    const p = document.createElement("p");
    p.className = "error-box";
    p.textContent = "无法载入原文：" + err.message;
    body.appendChild(p);
  }
}

// Paragraphs of a section; the part inside [hlStart, hlEnd) (source offsets) is wrapped in <mark>.
function renderSection(body, data, hlStart, hlEnd) {
  body.innerHTML = "";
  for (const p of data.paragraphs) {
    const el = document.createElement("p");
    el.className = p.kind;
    el.dataset.line = p.line;
    const no = document.createElement("span");
    no.className = "line-no";
    no.textContent = p.line;
    el.appendChild(no);
    const a = Math.max(p.char_start, hlStart ?? Infinity) - p.char_start;
    const b = Math.min(p.char_end, hlEnd ?? -Infinity) - p.char_start;
    if (hlStart != null && a < b) {
      el.appendChild(document.createTextNode(p.text.slice(0, a)));
      const mark = document.createElement("mark");
      mark.className = "quote";
      mark.textContent = p.text.slice(a, b);
      el.appendChild(mark);
      el.appendChild(document.createTextNode(p.text.slice(b)));
    } else {
      el.appendChild(document.createTextNode(p.text));
    }
    body.appendChild(el);
  }
  if (!data.paragraphs.length) body.innerHTML = '<p class="muted">这一节没有正文。</p>';
}

// ---------------------------------------------------------------- report browser

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
      $("#body-list").innerHTML = data.facets.bodies.map((b) => `<option value="${escapeHTML(b)}">`).join("");
      state.reportsLoaded = true;
    }
    list.innerHTML = `<div class="count">共 ${data.total} 份报告</div>`;
    for (const r of data.reports) {
      const item = document.createElement("div");
      item.className = "report-item";
      item.dataset.id = r.id;
      item.innerHTML = '<div class="title"></div><div class="meta"></div>';
      $(".title", item).textContent = r.title;
      $(".meta", item).textContent = [r.body, r.period, r.kind, `${r.n_sections} 节`].filter(Boolean).join(" · ");
      item.addEventListener("click", () => {
        for (const x of list.querySelectorAll(".report-item.active")) x.classList.remove("active");
        item.classList.add("active");
        showReport(r.id);
      });
      list.appendChild(item);
    }
  } catch (err) {
    list.innerHTML = "";
    const p = document.createElement("div");
    p.className = "count error-box";
    p.textContent = "载入失败：" + err.message;
    list.appendChild(p);
  }
}

async function showReport(id) {
  const box = $("#report-detail");
  box.innerHTML = '<div class="progress"><span class="spinner"></span>载入中…</div>';
  try {
    const r = await getJSON(`/v1/reports/${encodeURIComponent(id)}`);
    box.innerHTML = "<h2></h2><div class='muted meta'></div>";
    $("h2", box).textContent = r.title;
    $(".meta", box).textContent = [r.source_file + " 第" + r.title_line + "行", r.body, r.period].filter(Boolean).join(" · ");
    const tree = document.createElement("ul");
    tree.className = "tree";
    const add = (node, ul) => {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.textContent = node.heading || "（开头）";
      a.addEventListener("click", () => openSource(
        { report_id: r.id, report_title: r.title, section_id: node.id, section_path: node.path }, null));
      li.appendChild(a);
      if (node.children.length) {
        const sub = document.createElement("ul");
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
    const p = document.createElement("p");
    p.className = "error-box";
    p.textContent = "载入失败：" + err.message;
    box.appendChild(p);
  }
}

// ---------------------------------------------------------------- wiring

function switchView(view) {
  for (const tab of document.querySelectorAll(".tab")) {
    const on = tab.dataset.view === view;
    tab.classList.toggle("active", on);
    tab.setAttribute("aria-selected", String(on));
  }
  $("#chat-view").hidden = view !== "chat";
  $("#reports-view").hidden = view !== "reports";
  if (view === "reports" && !state.reportsLoaded) loadReports();
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
  for (const b of document.querySelectorAll(".example")) {
    b.addEventListener("click", () => ask(b.textContent));
  }
  $("#new-chat").addEventListener("click", () => {
    if (state.controller) state.controller.abort();
    state.exchanges = [];
    for (const m of document.querySelectorAll("#messages .msg")) m.remove();
    $("#welcome").hidden = false;
    switchView("chat");
    input.focus();
  });
  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", () => switchView(tab.dataset.view));
  }
  const closeReader = () => {
    $("#reader").hidden = true;
    document.body.classList.remove("reader-open");
  };
  $("#reader-close").addEventListener("click", closeReader);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") closeReader(); });
  let filterTimer = null;
  $("#report-filters").addEventListener("input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(loadReports, 250);
  });
  $("#report-filters").addEventListener("submit", (e) => e.preventDefault());
  updateSend();
  pollReady();
  input.focus();
});
