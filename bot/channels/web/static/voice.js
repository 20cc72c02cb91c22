// coursebot web chat: push-to-talk. Shown only when GET /api/config says this server takes speech
// (Lex mode, or an offline recognizer). Hold the button (or click it once to start and again to stop):
// the microphone is recorded with Web Audio, downsampled to 16 kHz 16-bit mono PCM, sent to
// POST /api/voice, and the transcript, the reply and the spoken answer are shown and played.
// Also hides Attach when the server takes no files. Messages are drawn by app.js (window.coursebotChat).
"use strict";

(function () {
  const TARGET_RATE = 16000;
  const HOLD_MS = 350;  // released sooner than this: a click, which toggles recording instead
  const MIN_SECONDS = 0.3;
  const SILENCE_RMS = 0.004;  // full scale is 1.0; a quiet room is about 0.001
  const SAY = {
    noMic: "I can't use the microphone: allow it for this page in your browser, then try again.",
    noDevice: "I couldn't find a microphone on this device.",
    insecure: "The microphone only works when this page is opened over https:// (or on localhost).",
    nothing: "I didn't hear anything. Hold the button while you speak, then let go.",
    tooLong: (s) => "That was too long: keep it under " + s + " seconds.",
    network: "I couldn't reach the server to send that recording. Please try again.",
  };

  const button = document.getElementById("talk");
  const attach = document.getElementById("attach");
  let config = null;

  function chat() { return window.coursebotChat; }

  function say(text, code) {
    chat().addBotMessage({ text: text, error: code || "voice", intent: "Fallback" });
  }

  // --- PCM ----------------------------------------------------------------------------------------
  // Average each output sample's window of input samples (a box low-pass), then 16-bit little-endian.
  function toPcm16(chunks, inputRate) {
    let length = 0;
    for (const c of chunks) length += c.length;
    const input = new Float32Array(length);
    let at = 0;
    for (const c of chunks) { input.set(c, at); at += c.length; }
    const ratio = inputRate / TARGET_RATE;
    const outLength = Math.floor(input.length / ratio);
    const out = new DataView(new ArrayBuffer(outLength * 2));
    let sumSquares = 0;
    for (let i = 0; i < outLength; i++) {
      const start = Math.floor(i * ratio), end = Math.max(start + 1, Math.floor((i + 1) * ratio));
      let sum = 0;
      for (let j = start; j < end && j < input.length; j++) sum += input[j];
      const v = Math.max(-1, Math.min(1, sum / (end - start)));
      sumSquares += v * v;
      out.setInt16(i * 2, v < 0 ? v * 0x8000 : v * 0x7fff, true);
    }
    return { bytes: out.buffer, seconds: outLength / TARGET_RATE, rms: Math.sqrt(sumSquares / Math.max(1, outLength)) };
  }

  // --- recording --------------------------------------------------------------------------------------
  let recording = null;  // {stream, context, node, source, chunks, started, timer, toggled}

  async function start() {
    if (recording || chat().isBusy()) return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { say(SAY.insecure, "microphone_unavailable"); return; }
    const pending = { chunks: [], toggled: false, cancelled: false };
    recording = pending;
    setState("starting");
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true } });
    } catch (e) {
      recording = null;
      setState("idle");
      const denied = e && (e.name === "NotAllowedError" || e.name === "SecurityError");
      say(denied ? SAY.noMic : SAY.noDevice, denied ? "microphone_denied" : "no_microphone");
      return;
    }
    const context = new (window.AudioContext || window.webkitAudioContext)();
    const source = context.createMediaStreamSource(stream);
    const node = context.createScriptProcessor(4096, 1, 1);
    node.onaudioprocess = (event) => { pending.chunks.push(new Float32Array(event.inputBuffer.getChannelData(0))); };
    source.connect(node);
    node.connect(context.destination);  // a ScriptProcessor only runs when connected; it outputs silence
    Object.assign(pending, { stream: stream, context: context, source: source, node: node, started: performance.now() });
    const limit = (config && config.max_speech_seconds) || 15;
    pending.timer = setTimeout(() => stop(true), limit * 1000);
    if (pending.cancelled) { stop(false); return; }  // released while the microphone was opening
    setState("recording");
  }

  function release(r) {
    clearTimeout(r.timer);
    try { r.node.disconnect(); r.source.disconnect(); } catch (e) { /* already gone */ }
    r.stream.getTracks().forEach((t) => t.stop());
    const rate = r.context.sampleRate;
    r.context.close();
    return rate;
  }

  async function stop(overLimit) {
    const r = recording;
    if (!r) return;
    if (!r.stream) { r.cancelled = true; return; }  // still opening: start() finishes the stop
    recording = null;
    const rate = release(r);
    setState("idle");
    const limit = (config && config.max_speech_seconds) || 15;
    if (overLimit) { say(SAY.tooLong(limit), "speech_too_long"); return; }
    const pcm = toPcm16(r.chunks, rate);
    if (pcm.seconds < MIN_SECONDS || pcm.rms < SILENCE_RMS) { say(SAY.nothing, "nothing_heard"); return; }
    if (config && config.max_speech_bytes && pcm.bytes.byteLength > config.max_speech_bytes) { say(SAY.tooLong(limit), "speech_too_long"); return; }
    await send(pcm);
  }

  // --- sending and playing -------------------------------------------------------------------------------
  function audioUrl(audio) {
    if (!audio || typeof audio.data !== "string" || !/^audio\/[\w.+-]+$/.test(audio.mime || "")) return null;
    const raw = atob(audio.data);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return URL.createObjectURL(new Blob([bytes], { type: audio.mime }));
  }

  async function send(pcm) {
    const c = chat();
    c.setBusy(true);
    try {
      const response = await fetch("/api/voice", {
        method: "POST", credentials: "same-origin", body: pcm.bytes,
        headers: { "Content-Type": "audio/l16; rate=" + TARGET_RATE + "; channels=1" },
      });
      let reply = null;
      try { reply = await response.json(); } catch (e) { reply = null; }
      if (!reply || typeof reply.text !== "string") {
        reply = { text: "The server answered with an error (HTTP " + response.status + "). Please try again.", error: "http_" + response.status };
      }
      if (reply.transcript) c.addUserMessage(reply.transcript, null, "voice");
      const box = c.addBotMessage(reply);
      const url = audioUrl(reply.audio);
      if (url && box) {
        const player = document.createElement("audio");
        player.className = "voice-reply";
        player.controls = true;
        player.src = url;
        player.title = "The answer, spoken";
        box.appendChild(player);
        player.play().catch(() => { /* autoplay refused: the controls are there */ });
      }
    } catch (e) {
      say(SAY.network, "network");
    } finally {
      c.setBusy(false);
    }
  }

  // --- the button: hold to talk, or click to start and click again to stop ---------------------------------
  function setState(state) {
    button.dataset.state = state;
    button.setAttribute("aria-pressed", String(state === "recording"));
    button.textContent = state === "recording" ? "Listening… release to send" : state === "starting" ? "Opening the microphone…" : "Hold to talk";
  }

  let pressedAt = 0;
  button.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    if (recording && recording.toggled) { stop(false); return; }
    pressedAt = performance.now();
    start();
  });
  function up() {
    if (!recording || recording.toggled) return;
    if (performance.now() - pressedAt < HOLD_MS) { recording.toggled = true; return; }  // a click: keep recording
    stop(false);
  }
  button.addEventListener("pointerup", up);
  button.addEventListener("pointerleave", up);
  button.addEventListener("keydown", (e) => {  // keyboard: Space or Enter toggles
    if (e.key !== " " && e.key !== "Enter") return;
    e.preventDefault();
    if (e.repeat) return;
    if (recording) { stop(false); } else { start().then(() => { if (recording) recording.toggled = true; }); }
  });

  fetch("/api/config", { credentials: "same-origin" }).then((r) => r.json()).then((c) => {
    config = c;
    if (attach && c.uploads === false) attach.hidden = true;
    if (c.speech && button) { setState("idle"); button.hidden = false; }
  }, () => { /* no config: no push-to-talk */ });
})();
