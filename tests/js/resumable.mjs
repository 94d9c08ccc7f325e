// A resumable text session of the resumption scripts (session_resumption.mjs,
// failover.mjs): the connection, its messages as a queue, and one turn at a time.
import { GoogleGenAI, Modality } from '@google/genai';

const ai = new GoogleGenAI({});
const SYSTEM = 'You are a helpful assistant.';

// Connect, resuming `handle` if given. An error ends the script, unless `finish()` was
// called first (a connection left open while the test kills its node).
export async function open(handle) {
  const messages = [];
  let wake = () => {};
  let done = false;
  const session = await ai.live.connect({
    model: 'gemini-live-2.5-flash-preview',
    config: {
      responseModalities: [Modality.TEXT],
      systemInstruction: SYSTEM,
      temperature: 0,
      maxOutputTokens: 24,
      sessionResumption: handle ? { handle } : {},
    },
    callbacks: {
      onmessage: (message) => { messages.push(message); wake(); },
      onerror: (e) => { if (!done) { console.error(e.message); process.exit(1); } },
    },
  });
  const next = async () => {
    while (messages.length === 0) await new Promise((resolve) => { wake = resolve; });
    return messages.shift();
  };
  return { session, next, messages, finish: () => { done = true; } };
}

// One turn: the answer, its usage, and the handle sent once the turn is over.
export async function ask({ session, next }, text) {
  session.sendClientContent({ turns: text });
  let answer = '';
  let usage;
  let handle;
  for (;;) {
    const message = await next();
    if (message.text) answer += message.text;
    if (message.usageMetadata) usage = message.usageMetadata;
    const update = message.sessionResumptionUpdate;
    if (update?.resumable && update.newHandle) handle = update.newHandle;
    if (handle && update && answer) return { answer, usage, handle };
  }
}
