// The playground: a Live API session from the browser, over the WebSocket protocol
// itself (no SDK, nothing fetched from elsewhere). See docs/playground.md.

import { Microphone, Speaker, toBase64 } from './audio.js';

const $ = (id) => document.getElementById(id);
const form = $('settings');
const log = $('log');
const raw = $('raw-messages');
const status = $('status');
const RAW_KEPT = 200;
const VOICED = 0.02; // a microphone frame peaking above this counts as speech
const SAVED = 'openlive-playground'; // sessionStorage: handle, settings, log

/** What the page observed, for people (the status line) and for tests. */
const stats = { state: 'idle', played: 0, queued: 0, dropped: 0, interruptions: 0, turns: 0, interim: 0, calls: 0, gaps: 0 };
window.openlive = { stats };

let socket = null;
let microphone = null;
let speaker = null;
let handle = null;
let chosen = null; // the settings of the session in progress
let lastVoiced = 0; // when the microphone last heard speech (ms, performance.now())
let waitingSince = 0; // when the user's turn ended and an answer became due
let turn = null; // the entries of the current turn in the log

// --- settings ------------------------------------------------------------------------

function settings() {
  const data = new FormData(form);
  return Object.fromEntries(['key', 'model', 'voice', 'language', 'modality', 'temperature', 'system', 'functions']
    .map((name) => [name, String(data.get(name) ?? '')]));
}

function setup(values) {
  const generationConfig = { responseModalities: [values.modality] };
  if (values.temperature !== '') generationConfig.temperature = Number(values.temperature);
  if (values.modality === 'AUDIO') {
    generationConfig.speechConfig = {
      voiceConfig: { prebuiltVoiceConfig: { voiceName: values.voice } },
      ...(values.language ? { languageCode: values.language } : {}),
    };
  }
  const body = {
    model: values.model,
    generationConfig,
    inputAudioTranscription: {},
    sessionResumption: handle ? { handle } : {},
  };
  if (values.modality === 'AUDIO') body.outputAudioTranscription = {};
  if (values.system.trim()) body.systemInstruction = { parts: [{ text: values.system }] };
  const functions = values.functions.trim();
  if (functions) body.tools = [{ functionDeclarations: JSON.parse(functions) }];
  return { setup: body };
}

let catalogue = []; // the models, with their voices and modalities

async function loadOptions() {
  const key = encodeURIComponent(form.key.value || 'playground');
  const reply = await fetch(`playground/options.json?key=${key}`);
  const options = await reply.json();
  if (!reply.ok) {
    note(`The server refused the key: ${options.error?.message ?? reply.status}`);
    return;
  }
  catalogue = options.models;
  fill(form.model, catalogue.map((m) => [m.name, m.displayName]), form.model.value || options.defaultModel);
  const languages = options.languages.map((l) => [l.code, `${l.name} (${l.code})`]);
  fill(form.language, [['', 'Detect'], ...languages], form.language.value || 'en-US');
  modelChanged(form.voice.value || options.defaultVoice);
}

function fill(select, items, chosen) {
  select.replaceChildren(...items.map(([value, label]) => new Option(label, value)));
  if (items.some(([value]) => value === chosen)) select.value = chosen;
}

/** The voices and modalities of the model chosen. */
function modelChanged(voice = form.voice.value) {
  const model = catalogue.find((m) => m.name === form.model.value);
  if (!model) return;
  fill(form.voice, model.voices.map((v) => [v, v]), voice);
  for (const option of form.modality.options) option.disabled = !model.modalities.includes(option.value);
  if (form.modality.selectedOptions[0]?.disabled) form.modality.value = model.modalities[0];
}

// --- the session -----------------------------------------------------------------------

async function start(resuming = false) {
  const values = settings();
  chosen = values;
  let first;
  try {
    first = setup(values);
  } catch (error) {
    note(`Function declarations are not valid JSON: ${error.message}`);
    return;
  }
  setState('connecting');
  speaker = new Speaker((report) => Object.assign(stats, report));
  await speaker.start();
  if (values.modality === 'AUDIO' || !resuming) {
    microphone = new Microphone(sendAudio);
    try {
      await microphone.start();
    } catch (error) {
      note(`No microphone: ${error.message}. Text turns still work.`);
      microphone = null;
    }
  }
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const path = 'ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent';
  socket = new WebSocket(`${scheme}://${location.host}/${path}?key=${encodeURIComponent(values.key || 'playground')}`);
  socket.onopen = () => send(first);
  socket.onmessage = async ({ data }) => receive(JSON.parse(typeof data === 'string' ? data : await data.text()));
  socket.onclose = ({ code, reason }) => {
    if (code !== 1000) note(`Closed: ${code} ${reason}`);
    stop(false);
  };
  save();
}

async function stop(close = true) {
  const open = socket;
  socket = null;
  if (close && open && open.readyState <= WebSocket.OPEN) open.close(1000);
  if (close) forget();
  await microphone?.stop();
  await speaker?.stop();
  microphone = speaker = null;
  setState('idle');
}

function send(message) {
  if (socket?.readyState !== WebSocket.OPEN) return;
  socket.send(JSON.stringify(message));
  show('→', message);
}

function sendAudio(pcm, peak) {
  if (stats.state === 'idle' || stats.state === 'connecting') return;
  if (peak > VOICED) {
    lastVoiced = performance.now();
    waitingSince = 0;
  }
  send({ realtimeInput: { audio: { data: toBase64(pcm), mimeType: 'audio/pcm;rate=16000' } } });
}

function sendText(text) {
  send({ realtimeInput: { text } });
  entry('user', text);
  turn = null;
  waitingSince = performance.now();
}

function receive(message) {
  show('←', message);
  if (message.setupComplete) {
    setState('listening');
  }
  const answered = turn?.model ?? log.querySelector('.model:last-of-type');
  if (message.usageMetadata && answered) {
    const usage = message.usageMetadata;
    answered.querySelector('.usage').textContent =
      `${usage.promptTokenCount ?? 0} tokens in, ${usage.responseTokenCount ?? 0} out`;
  }
  const content = message.serverContent;
  if (content) {
    if (content.interrupted) {
      speaker?.clear();
      stats.interruptions++;
      current('model').dataset.interrupted = 'true';
      note('Interrupted');
    }
    if (content.interimInputTranscription) stats.interim++;
    const heard = content.inputTranscription ?? content.interimInputTranscription;
    if (heard?.text) {
      const user = current('user');
      user.querySelector('.text').textContent = heard.text;
      user.dataset.final = String(!content.interimInputTranscription);
      if (!waitingSince) waitingSince = lastVoiced || performance.now();
    }
    for (const part of content.modelTurn?.parts ?? []) {
      if (part.inlineData?.data) {
        speaker?.play(part.inlineData.data);
        firstAnswer();
        setState('speaking');
      }
      if (part.text && !part.thought) append(current('model'), part.text);
    }
    if (content.outputTranscription?.text) append(current('model'), content.outputTranscription.text);
    if (content.turnComplete || content.generationComplete) speaker?.end();
    if (content.turnComplete) {
      stats.turns++;
      turn = null;
      waitingSince = 0;
      setState('listening');
    }
  }
  if (message.toolCall) {
    for (const call of message.toolCall.functionCalls ?? []) toolCall(call);
  }
  if (message.sessionResumptionUpdate?.resumable && message.sessionResumptionUpdate.newHandle) {
    handle = message.sessionResumptionUpdate.newHandle;
    save();
  }
  if (message.goAway) {
    note('The server is going away: resuming');
    reconnect();
  }
}

async function reconnect() {
  await stop(false);
  await start(true);
}

// --- the log -------------------------------------------------------------------------

function current(role) {
  turn ??= {};
  turn[role] ??= entry(role, '');
  return turn[role];
}

function entry(role, text) {
  const item = document.createElement('li');
  item.className = role;
  item.innerHTML = '<span class="who"></span> <span class="text"></span> <span class="meta"><span class="latency"></span> <span class="usage"></span></span>';
  item.querySelector('.who').textContent = { user: 'You', model: 'Model', note: '·', tool: 'Tool' }[role];
  item.querySelector('.text').textContent = text;
  log.append(item);
  item.scrollIntoView({ block: 'nearest' });
  saveLog();
  return item;
}

function append(item, text) {
  const span = item.querySelector('.text');
  span.textContent = (span.textContent + text).replace(/\s+/g, ' ');
  saveLog();
}

function firstAnswer() {
  const model = current('model');
  if (model.dataset.latency || !waitingSince) return;
  const latency = (performance.now() - waitingSince) / 1000;
  model.dataset.latency = latency.toFixed(2);
  model.querySelector('.latency').textContent = `${latency.toFixed(2)} s`;
}

function note(text) {
  entry('note', text);
}

function toolCall(call) {
  stats.calls++;
  const item = entry('tool', `${call.name}(${JSON.stringify(call.args ?? {})})`);
  const answer = document.createElement('form');
  answer.className = 'tool-response';
  answer.innerHTML = '<label>Response <textarea name="response" rows="2">{"result": "ok"}</textarea></label> <button>Send response</button>';
  answer.onsubmit = (event) => {
    event.preventDefault();
    let response;
    try {
      response = JSON.parse(answer.response.value);
    } catch (error) {
      note(`The response is not valid JSON: ${error.message}`);
      return;
    }
    send({ toolResponse: { functionResponses: [{ id: call.id, name: call.name, response }] } });
    answer.remove();
    waitingSince = performance.now();
  };
  item.append(answer);
}

function show(direction, message) {
  const text = JSON.stringify(message, (key, value) =>
    key === 'data' && typeof value === 'string' && value.length > 80 ? `<${value.length} base64 characters>` : value);
  const line = document.createElement('div');
  line.textContent = `${direction} ${text}`;
  raw.append(line);
  while (raw.childElementCount > RAW_KEPT) raw.firstElementChild.remove();
}

function setState(state) {
  stats.state = state;
  status.textContent = { idle: 'Not connected', connecting: 'Connecting…', listening: 'Listening', speaking: 'Speaking' }[state];
  $('start').disabled = state !== 'idle';
  $('stop').disabled = state === 'idle';
  $('text').disabled = $('send').disabled = state === 'idle' || state === 'connecting';
  for (const field of form.querySelectorAll('.setting')) field.disabled = state !== 'idle';
}

// --- reloads: the session resumes with its handle ---------------------------------------

function save() {
  sessionStorage.setItem(SAVED, JSON.stringify({ handle, values: chosen, log: log.innerHTML }));
}

function saveLog() {
  if (chosen) save(); // only while a session is kept for a reload
}

function forget() {
  handle = chosen = null;
  sessionStorage.removeItem(SAVED);
}

async function restore() {
  const saved = JSON.parse(sessionStorage.getItem(SAVED) ?? 'null');
  if (!saved?.handle) return;
  form.model.value = saved.values.model;
  modelChanged(saved.values.voice);
  for (const [name, value] of Object.entries(saved.values)) {
    if (form.elements[name]) form.elements[name].value = value;
  }
  log.innerHTML = saved.log ?? '';
  handle = saved.handle;
  note('Resuming the session');
  await start(true);
}

// --- wiring --------------------------------------------------------------------------

$('start').onclick = () => start().catch((error) => { note(String(error)); stop(); });
$('stop').onclick = () => stop();
$('text-form').onsubmit = (event) => {
  event.preventDefault();
  const text = $('text').value.trim();
  if (text) sendText(text);
  $('text').value = '';
};
form.key.onchange = () => loadOptions();
form.model.onchange = () => modelChanged();
setState('idle');
loadOptions().then(restore).catch((error) => note(String(error)));
