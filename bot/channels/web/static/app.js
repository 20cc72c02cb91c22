// coursebot web chat. Untrusted text (answers, quotes from PDFs, file names) only ever reaches the
// page through textContent, setAttribute on safe attributes, or links whose scheme is checked:
// parsed (no inner/outer HTML assignment, no insertAdjacentHTML, no document.write).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const messages = $("messages"), form = $("composer"), textBox = $("text"), fileInput = $("file");
  const working = $("working"), sendButton = $("send"), dropHint = $("drop-hint");
  const workingText = $("working-text");
  let pendingFile = null;
  let busy = false;
  let maxUploadBytes = null;  // from /healthz; the server checks again (and sniffs the type)

  // --- safe links ------------------------------------------------------------------------------
  function safeUrl(raw) {
    if (typeof raw !== "string" || !raw) return null;
    if (raw.startsWith("/") && !raw.startsWith("//") && !raw.startsWith("/\\")) return raw;
    try {
      const u = new URL(raw, window.location.href);
      return (u.protocol === "http:" || u.protocol === "https:") ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  function link(href, text) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // --- a tiny markdown subset, rendered as DOM nodes -------------------------------------------
  // inline: `code`, **bold**, *italic* / _italic_, [text](http-url), bare http(s) URLs
  const INLINE = /(`[^`\n]+`)|(\*\*[^*\n]+\*\*)|(\*[^*\s][^*\n]*\*)|(\b_[^_\n]+_\b)|(\[[^\]\n]+\]\([^)\s]+\))|(https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"])/g;

  function renderInline(parent, text) {
    let last = 0;
    for (const m of text.matchAll(INLINE)) {
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      const tok = m[0];
      if (m[1]) parent.appendChild(el("code", null, tok.slice(1, -1)));
      else if (m[2]) { const b = el("strong"); renderInline(b, tok.slice(2, -2)); parent.appendChild(b); }
      else if (m[3] || m[4]) { const i = el("em"); renderInline(i, tok.slice(1, -1)); parent.appendChild(i); }
      else if (m[5]) {
        const close = tok.indexOf("](");
        const label = tok.slice(1, close), href = safeUrl(tok.slice(close + 2, -1));
        parent.appendChild(href ? link(href, label) : document.createTextNode(tok));
      } else if (m[6]) {
        const href = safeUrl(tok);
        parent.appendChild(href ? link(href, tok) : document.createTextNode(tok));
      }
      last = m.index + tok.length;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function renderMarkdown(text) {
    const root = el("div", "md");
    const lines = String(text || "").replace(/\r\n?/g, "\n").split("\n");
    let para = null, list = null, code = null;
    const flush = () => { para = null; list = null; };
    for (const line of lines) {
      if (code) {
        if (/^\s*```/.test(line)) { code = null; continue; }
        code.textContent += (code.textContent ? "\n" : "") + line;
        continue;
      }
      if (/^\s*```/.test(line)) {
        flush();
        const pre = el("pre");
        code = el("code");
        pre.appendChild(code);
        root.appendChild(pre);
        continue;
      }
      if (!line.trim()) { flush(); continue; }
      const heading = /^(#{1,6})\s+(.*)$/.exec(line);
      if (heading) {
        flush();
        const h = el(heading[1].length <= 2 ? "h3" : "h4");
        renderInline(h, heading[2]);
        root.appendChild(h);
        continue;
      }
      const bullet = /^\s*(?:[-*•])\s+(.*)$/.exec(line), numbered = /^\s*(\d{1,3})[.)]\s+(.*)$/.exec(line);
      if (bullet || numbered) {
        const tag = bullet ? "ul" : "ol";
        if (!list || list.tagName.toLowerCase() !== tag) {
          para = null;
          list = el(tag);
          if (numbered && numbered[1] !== "1") list.start = parseInt(numbered[1], 10);
          root.appendChild(list);
        }
        const li = el("li");
        renderInline(li, (bullet || numbered)[bullet ? 1 : 2]);
        list.appendChild(li);
        continue;
      }
      if (list && /^\s{2,}\S/.test(line)) {  // continuation of a list item
        const li = list.lastElementChild;
        li.appendChild(document.createTextNode(" "));
        renderInline(li, line.trim());
        continue;
      }
      list = null;
      if (!para) { para = el("p"); root.appendChild(para); }
      else para.appendChild(el("br"));
      renderInline(para, line);
    }
    return root;
  }

  // --- messages --------------------------------------------------------------------------------
  function scrollDown() { messages.scrollTop = messages.scrollHeight; }

  function addUserMessage(text, file, kind) {
    const box = el("div", "msg user");
    if (kind === "voice") { box.classList.add("voice"); box.title = "What the bot heard"; }
    if (text) box.appendChild(el("div", "plain", text));
    if (file) {
      if (file.type.startsWith("image/")) {
        const img = el("img", "upload-preview");
        img.alt = file.name;
        img.addEventListener("error", () => img.remove());  // not really an image: the server will say so
        img.src = URL.createObjectURL(file);
        box.appendChild(img);
      }
      box.appendChild(el("div", "file-name", "Attached: " + file.name));
    }
    messages.appendChild(box);
    scrollDown();
  }

  function citationHref(c) {
    const href = safeUrl(c.url);
    if (!href) return null;
    if (c.page && !href.includes("#")) return href + "#page=" + encodeURIComponent(c.page);
    return href;
  }

  function addBotMessage(reply) {
    const box = el("div", "msg bot");
    box.dataset.intent = reply.intent || "";
    if (reply.error) { box.classList.add("error"); box.dataset.error = reply.error; }
    box.appendChild(renderMarkdown(reply.text));

    for (const m of reply.attachments || []) {
      const href = safeUrl(m.url);
      if (!href) continue;
      if (m.kind === "image") {
        const img = el("img", "reply-image");
        img.alt = m.title || "image";
        img.src = href;
        img.addEventListener("load", scrollDown);
        box.appendChild(img);
      } else if (m.kind === "audio") {
        const audio = el("audio", "reply-audio");
        audio.controls = true;
        audio.preload = "metadata";
        audio.src = href;
        if (m.title) audio.title = m.title;
        box.appendChild(audio);
        const save = link(href, "Download");  // a word, never the signed URL itself
        save.className = "download";
        save.setAttribute("download", "");
        box.appendChild(save);
      } else {
        box.appendChild(link(href, m.title || "download"));
      }
    }

    if (reply.citations && reply.citations.length) {
      const list = el("ol", "citations");
      list.setAttribute("aria-label", "Sources");
      reply.citations.forEach((c) => {
        const li = el("li");
        const label = c.source + (c.page ? ", page " + c.page : "");
        const href = citationHref(c);
        const node = href ? link(href, label) : el("span", null, label);
        if (c.quote) node.title = c.quote;
        li.appendChild(node);
        list.appendChild(li);
      });
      box.appendChild(list);
    }

    if (reply.suggestions && reply.suggestions.length) {
      const row = el("div", "suggestions");
      // while the bot waits for an answer (a quiz question, "which course?"), a button is the answer: one click sends it
      const answers = reply.state === "elicit";
      for (const s of reply.suggestions) {
        const b = el("button", answers ? "suggestion answer" : "suggestion", s);
        b.type = "button";
        b.addEventListener("click", () => { textBox.value = s; if (answers) send(); else textBox.focus(); });
        row.appendChild(b);
      }
      box.appendChild(row);
    }
    if (window.coursebotFeedback) window.coursebotFeedback.attach(box, reply);  // 👍 / 👎 (feedback.js)
    messages.appendChild(box);
    scrollDown();
    return box;
  }

  // --- sending ---------------------------------------------------------------------------------
  function setBusy(on) {
    busy = on;
    working.hidden = !on;
    sendButton.disabled = on;
    document.body.classList.toggle("busy", on);
  }

  function setPendingFile(file) {
    pendingFile = file || null;
    $("attachment").hidden = !pendingFile;
    $("attachment-name").textContent = pendingFile ? pendingFile.name : "";
  }

  async function send() {
    if (busy) return;
    const text = textBox.value.trim();
    const file = pendingFile;
    if (!text && !file) { textBox.focus(); return; }
    addUserMessage(text, file);
    if (file && maxUploadBytes && file.size > maxUploadBytes) {
      addBotMessage({ text: "'" + file.name + "' is " + (file.size / 1e6).toFixed(1) + " MB; the most I accept is " +
                            (maxUploadBytes / 1e6).toFixed(0) + " MB. Try a smaller photo, or split the PDF.",
                      error: "attachment_too_large" });
      setPendingFile(null);
      fileInput.value = "";
      return;
    }
    textBox.value = "";
    setPendingFile(null);
    fileInput.value = "";
    const body = new FormData();
    body.append("text", text);
    const course = new URLSearchParams(window.location.search).get("course");
    if (course) body.append("course", course);
    if (file) body.append("file", file, file.name);
    setBusy(true);
    const isPdf = file && (file.type === "application/pdf" || /\.pdf$/i.test(file.name));
    const poll = isPdf ? watchProgress() : null;
    try {
      const response = await fetch("/api/turn", { method: "POST", body, credentials: "same-origin" });
      let reply = null;
      try { reply = await response.json(); } catch (e) { reply = null; }
      if (!reply || typeof reply.text !== "string") {
        reply = { text: "The server answered with an error (HTTP " + response.status + "). Please try again.",
                  error: "http_" + response.status };
      }
      addBotMessage(reply);
    } catch (e) {
      addBotMessage({ text: "I couldn't reach the coursebot server. Is `coursebot serve` still running?",
                      error: "network" });
    } finally {
      if (poll) poll.stop();
      setBusy(false);
      textBox.focus();
    }
  }

  // While a PDF is added, ask the server how far it has got ("reading page 12 of 52…").
  function watchProgress() {
    let stopped = false;
    let timer = null;
    async function tick() {
      try {
        const r = await fetch("/api/progress", { credentials: "same-origin", cache: "no-store" });
        const p = await r.json();
        if (!stopped && p && p.active && typeof p.text === "string") {
          workingText.textContent = (p.files > 1 ? "[" + p.file + "/" + p.files + "] " : "") + p.source + ": " + p.text;
        }
      } catch (e) { /* the turn itself reports errors */ }
      if (!stopped) timer = setTimeout(tick, 700);
    }
    timer = setTimeout(tick, 300);
    return { stop() { stopped = true; clearTimeout(timer); workingText.textContent = "working…"; } };
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); send(); });
  textBox.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
  });
  $("attach").addEventListener("click", () => fileInput.click());
  fileInput.addEventListener("change", () => setPendingFile(fileInput.files[0]));
  $("attachment-remove").addEventListener("click", () => { setPendingFile(null); fileInput.value = ""; });
  $("new-chat").addEventListener("click", async () => {
    try { await fetch("/api/new", { method: "POST", credentials: "same-origin" }); } catch (e) { /* offline */ }
    messages.replaceChildren();
    greet();
  });

  // drag and drop anywhere on the page
  let dragDepth = 0;
  document.addEventListener("dragenter", (e) => { e.preventDefault(); dragDepth++; dropHint.hidden = false; });
  document.addEventListener("dragover", (e) => { e.preventDefault(); });
  document.addEventListener("dragleave", () => { dragDepth = Math.max(0, dragDepth - 1); if (!dragDepth) dropHint.hidden = true; });
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    dragDepth = 0;
    dropHint.hidden = true;
    const files = e.dataTransfer && e.dataTransfer.files;
    if (files && files.length) setPendingFile(files[0]);
  });

  let mode = "local";  // from /api/config: "lex" when a Lex bot answers (no files there)

  function greet() {
    if (mode === "lex") {
      addBotMessage({ text: "Hi! Ask me about the course. You can also hold the talk button (the microphone) and ask out loud.",
                      intent: "Greeting", suggestions: ["What does the course cover?", "What can you do?"] });
      return;
    }
    addBotMessage({
      text: "Hi! Ask me about the course, attach a photo or a PDF (**Attach**, or drag and drop it here), " +
            "or say **read that aloud** after an answer.",
      intent: "Greeting", suggestions: ["What does the course cover?", "What can you do?"],
    });
  }

  // a phone-width box shows a placeholder that fits it (the full one is cut at 390 px)
  let fullPlaceholder = textBox.placeholder;
  const narrow = window.matchMedia("(max-width: 520px)");
  const fitPlaceholder = () => { textBox.placeholder = narrow.matches ? "Ask about the course…" : fullPlaceholder; };
  fitPlaceholder();
  if (narrow.addEventListener) narrow.addEventListener("change", fitPlaceholder);

  // for voice.js (push-to-talk): it draws its turns with the same functions
  window.coursebotChat = { addUserMessage, addBotMessage, setBusy, isBusy: () => busy };

  fetch("/healthz").then((r) => r.json()).then((h) => { maxUploadBytes = h.max_upload_bytes; }, () => {});
  fetch("/api/config").then((r) => r.json()).then((c) => {
    mode = c.mode;
    if (mode === "lex") { fullPlaceholder = "Ask about the course…"; fitPlaceholder(); }  // Lex mode takes no files
  }, () => {}).finally(() => greet());
  textBox.focus();
})();
