// coursebot web chat: 👍 / 👎 under each answer (POST /api/feedback); 👎 opens an optional one-line
// "what was wrong?". app.js calls coursebotFeedback.attach(box, reply) for each bot message.
"use strict";

window.coursebotFeedback = (function () {
  const MAX_COMMENT = 500;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  async function post(answerId, rating, comment) {
    const body = { answer_id: answerId, rating: rating };
    if (comment) body.comment = comment;
    try {
      const r = await fetch("/api/feedback", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      if (r.status === 204) return null;
      try { const reply = await r.json(); if (reply && typeof reply.text === "string") return reply.text; } catch (e) { /* below */ }
      return "I couldn't record that (HTTP " + r.status + ").";
    } catch (e) {
      return "I couldn't reach the server to record that.";
    }
  }

  // the emoji is decoration (some systems have no emoji font); the word beside it is the visible label
  function button(className, emoji, label, ariaLabel) {
    const b = el("button", className);
    b.type = "button";
    const icon = el("span", "icon", emoji);
    icon.setAttribute("aria-hidden", "true");
    b.append(icon, el("span", "label", label));
    b.setAttribute("aria-label", ariaLabel);
    return b;
  }

  function attach(box, reply) {
    if (!reply || typeof reply.answer_id !== "string" || !reply.answer_id) return;
    if (reply.error || (reply.state && reply.state !== "fulfilled") || reply.intent === "Feedback") return;
    const id = reply.answer_id;
    const bar = el("div", "feedback");
    const up = button("rate up", "👍", "Helpful", "Helpful answer");
    const down = button("rate down", "👎", "Not helpful", "Not helpful answer");
    up.setAttribute("aria-pressed", "false");
    down.setAttribute("aria-pressed", "false");
    const status = el("span", "feedback-status");
    status.setAttribute("role", "status");

    const why = el("form", "feedback-why");
    why.hidden = true;
    const input = el("input");
    input.type = "text";
    input.maxLength = MAX_COMMENT;
    input.placeholder = "What was wrong? (optional)";
    input.setAttribute("aria-label", "What was wrong? (optional)");
    const sendWhy = el("button", "feedback-send", "Send");
    sendWhy.type = "submit";
    why.append(input, sendWhy);

    async function rate(rating, comment) {
      up.setAttribute("aria-pressed", String(rating === "up"));
      down.setAttribute("aria-pressed", String(rating === "down"));
      const problem = await post(id, rating, comment);
      status.textContent = problem || (rating === "up" ? "Thanks!" : comment ? "Thanks — noted for your instructor." : "Thanks.");
      return !problem;
    }

    up.addEventListener("click", () => { why.hidden = true; rate("up"); });
    down.addEventListener("click", async () => {
      await rate("down");
      why.hidden = false;
      input.focus();
    });
    why.addEventListener("submit", async (e) => {
      e.preventDefault();
      const comment = input.value.trim().slice(0, MAX_COMMENT);
      if (!comment) { why.hidden = true; return; }
      if (await rate("down", comment)) why.hidden = true;
    });
    input.addEventListener("keydown", (e) => { if (e.key === "Escape") { why.hidden = true; down.focus(); } });

    bar.append(up, down, status);
    box.append(bar, why);
  }

  return { attach: attach };
})();
