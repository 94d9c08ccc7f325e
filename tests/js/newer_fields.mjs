// The newer Live fields through the JavaScript SDK, five sessions at once:
// - translationConfig: a Spanish recording translated into English text, then an
//   English sentence echoed (echoTargetLanguage), its name heard through the
//   transcription's customVocabulary;
// - speechConfig.voiceConfig.replicatedVoiceConfig: an answer spoken in a voice derived
//   from a recording;
// - thinkingConfig.thinkingLevel: LOW asked in text; MINIMAL asked in speech, on a model
//   that reports voiceActivity, with the transcription's languageCodes and wordTimestamp;
// - a function response's willContinue and parts, on the session that also reads
//   setupComplete.sessionId and how each turn ends (interactionStatus, waitingForInput).
// Arguments: the folder of the recordings, and a 16 kHz WAV of the invoice sentence.
// Prints one JSON line of what each session saw, which tests/e2e/test_newer_fields.py
// judges.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Behavior, FunctionResponseScheduling, GoogleGenAI, Modality } from '@google/genai';

const [SPEECH, INVOICE] = process.argv.slice(2);
const MODEL = 'gemini-live-2.5-flash-preview';
const LEVELS = 'gemini-3.1-flash-live-preview';
const ai = new GoogleGenAI({});
console.warn = () => {}; // .text warns about the audio parts on every call

/** A session whose messages are read in order with `next()`; a close the script did not
 * ask for ends the script with its code and reason. */
async function open(model, config) {
  const queue = [];
  let wake = () => {};
  let closing = false;
  const session = await ai.live.connect({
    model,
    config,
    callbacks: {
      onmessage: (message) => { queue.push(message); wake(); },
      onerror: (e) => { console.error(`${model}: ${e.message}`); process.exit(1); },
      onclose: (e) => {
        if (closing) return;
        console.error(`${model}: closed ${e.code} ${e.reason}`);
        process.exit(1);
      },
    },
  });
  const next = async () => {
    while (queue.length === 0) await new Promise((resolve) => { wake = resolve; });
    return queue.shift();
  };
  const close = () => { closing = true; session.close(); };
  const setup = await next();
  return { session, next, close, setup };
}

/** The messages up to and including the next turnComplete. */
async function turn(next) {
  const messages = [];
  for (;;) {
    const message = await next();
    messages.push(message);
    if (message.serverContent?.turnComplete) return messages;
  }
}

const text = (messages) => messages.map((m) => m.text ?? '').join('');
const heard = (messages) =>
  messages.map((m) => m.serverContent?.inputTranscription?.text ?? '').join('');
/** What comes after a turn, as its turnComplete says. */
const after = (messages) => {
  const { interactionStatus, waitingForInput } = messages[messages.length - 1].serverContent;
  return { interactionStatus, waitingForInput };
};

/** The 16-bit PCM of a WAV file (its `data` chunk). */
function pcm(wav) {
  let at = 12;
  while (wav.toString('ascii', at, at + 4) !== 'data') at += 8 + wav.readUInt32LE(at + 4);
  return wav.subarray(at + 8, at + 8 + wav.readUInt32LE(at + 4));
}
const recording = (name) => readFileSync(join(SPEECH, name));
const invoice = () => readFileSync(INVOICE);

/** Each recording is one turn: a silence the client sets (1 s, longer than the
 * speakers' pauses) ends a turn, whatever the server's own way of ending turns. */
const ONE_TURN = { automaticActivityDetection: { silenceDurationMs: 1000 } };

/** `audio` (16 kHz PCM) sent in one message, then the end of the stream. (Sent in
 * pieces, a busy machine may let more than the silence of a turn's end pass between two
 * of them, which ends the turn there.) */
function send(session, audio) {
  const data = audio.toString('base64');
  session.sendRealtimeInput({ audio: { data, mimeType: 'audio/pcm;rate=16000' } });
  session.sendRealtimeInput({ audioStreamEnd: true });
}

/** Into English with echo: the Spanish recording is answered by its translation, then
 * the English sentence with a name in it by itself, as heard with the name in the
 * custom vocabulary. */
async function translation() {
  const { session, next, close } = await open(MODEL, {
    responseModalities: [Modality.TEXT],
    inputAudioTranscription: { customVocabulary: ['Siobhan'] },
    translationConfig: { targetLanguageCode: 'en', echoTargetLanguage: true },
    realtimeInputConfig: ONE_TURN,
  });
  const turns = [];
  for (const wav of [recording('cafe-es-espeak.wav'), invoice()]) {
    send(session, pcm(wav));
    const messages = await turn(next);
    turns.push({ heard: heard(messages), said: text(messages) });
  }
  close();
  return turns;
}

/** An answer spoken in a voice derived from the English recording: its audio. */
async function replicatedVoice() {
  const { session, next, close } = await open(MODEL, {
    responseModalities: [Modality.AUDIO],
    speechConfig: {
      voiceConfig: {
        replicatedVoiceConfig: {
          mimeType: 'audio/wav',
          voiceSampleAudio: recording('clone-test.wav').toString('base64'),
        },
      },
    },
    systemInstruction: 'Repeat exactly what the user says, nothing else.',
    temperature: 0,
    maxOutputTokens: 40,
  });
  session.sendClientContent({ turns: 'We will be there at noon, with the maps.' });
  const audio = [];
  for (const message of await turn(next)) {
    if (message.data) audio.push(Buffer.from(message.data, 'base64'));
  }
  close();
  return Buffer.concat(audio).toString('base64');
}

/** What an answer of the thinking model held: its thought parts, its audio's bytes, and
 * usageMetadata's thoughtsTokenCount. */
function spoken(messages) {
  let thoughts = 0;
  let audio = 0;
  let usage;
  for (const message of messages) {
    for (const part of message.serverContent?.modelTurn?.parts ?? []) {
      if (part.thought) thoughts += 1;
      else if (part.inlineData) audio += Buffer.from(part.inlineData.data, 'base64').length;
    }
    if (message.usageMetadata) usage = message.usageMetadata;
  }
  return { thoughts, audio, thoughtsTokenCount: usage?.thoughtsTokenCount ?? 0 };
}

function thinking(level) {
  return {
    thinkingConfig: { thinkingLevel: level, includeThoughts: true },
    temperature: 0,
    maxOutputTokens: 6,
  };
}

/** LOW, asked in text. */
async function thinkingLow() {
  const { session, next, close } = await open(LEVELS, thinking('LOW'));
  session.sendClientContent({ turns: 'What is two plus three?' });
  const result = spoken(await turn(next));
  close();
  return result;
}

/** MINIMAL, asked in speech: the English recording with half a second of silence
 * before it and one and a half after, so that the model reports where its speech starts
 * and ends (voiceActivity); the transcript with its language and words. */
async function thinkingMinimalSpoken() {
  const { session, next, close } = await open(LEVELS, {
    ...thinking('MINIMAL'),
    inputAudioTranscription: { languageCodes: ['en-US'], wordTimestamp: true },
    realtimeInputConfig: ONE_TURN,
  });
  const silence = (s) => Buffer.alloc(2 * Math.round(16000 * s));
  send(session, Buffer.concat([silence(0.5), pcm(recording('clone-test.wav')), silence(1.5)]));
  const messages = await turn(next);
  close();
  const transcript = messages.find((m) => m.serverContent?.inputTranscription)
    ?.serverContent.inputTranscription;
  return {
    ...spoken(messages),
    voiceActivity: messages.filter((m) => m.voiceActivity).map((m) => m.voiceActivity),
    languageCode: transcript?.languageCode,
    words: transcript?.words?.length ?? 0,
  };
}

/** A NON_BLOCKING call answered twice: a SILENT result that continues (willContinue),
 * given in a text part, then the last one, which is answered. */
async function willContinue() {
  const { session, next, close, setup } = await open(MODEL, {
    responseModalities: [Modality.TEXT],
    temperature: 0,
    maxOutputTokens: 24,
    tools: [{
      functionDeclarations: [{
        name: 'get_weather',
        description: 'Get the current weather in a city.',
        parametersJsonSchema: {
          type: 'object',
          properties: { city: { type: 'string' } },
          required: ['city'],
        },
        behavior: Behavior.NON_BLOCKING,
      }],
    }],
  });
  session.sendClientContent({ turns: "What's the weather like in Paris?" });
  const called = await turn(next);
  const [call] = called.find((m) => m.toolCall).toolCall.functionCalls;
  const morning = Buffer.from('cloudy in the morning').toString('base64');
  session.sendToolResponse({
    functionResponses: [{
      id: call.id,
      name: call.name,
      response: {},
      parts: [{ inlineData: { mimeType: 'text/plain', data: morning } }],
      willContinue: true,
      scheduling: FunctionResponseScheduling.SILENT,
    }],
  });
  session.sendToolResponse({
    functionResponses: [{ id: call.id, name: call.name, response: { output: { sky: 'sunny' } } }],
  });
  const answered = await turn(next);
  close();
  return {
    sessionId: setup.setupComplete?.sessionId,
    name: call.name,
    args: call.args,
    called: after(called),
    answered: after(answered),
    answer: text(answered),
    promptTokenCount: answered[answered.length - 1].usageMetadata?.promptTokenCount,
  };
}

const [continued, translated, voice, low, minimal] = await Promise.all([
  willContinue(), translation(), replicatedVoice(), thinkingLow(), thinkingMinimalSpoken(),
]);
console.log(JSON.stringify({
  translated,
  voice,
  thinking: { LOW: low, MINIMAL: minimal },
  willContinue: continued,
}));
