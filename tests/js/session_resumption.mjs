// Session resumption: tells the model a code, closes, reconnects with the last handle
// and asks for the code. Prints one JSON line: both answers, the two handles used, and
// the promptTokenCount of the resumed turn.
import { GoogleGenAI, Modality } from '@google/genai';

const ai = new GoogleGenAI({});
const SYSTEM = 'You are a helpful assistant.';

async function open(handle) {
  const messages = [];
  let wake = () => {};
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
      onerror: (e) => { console.error(e.message); process.exit(1); },
    },
  });
  const next = async () => {
    while (messages.length === 0) await new Promise((resolve) => { wake = resolve; });
    return messages.shift();
  };
  return { session, next };
}

// One turn: the answer, its usage, and the handle sent once the turn is over.
async function ask({ session, next }, text) {
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
    if (handle && message.sessionResumptionUpdate && answer) return { answer, usage, handle };
  }
}

const first = await open();
const said = await ask(first, 'The secret code is 4721.');
first.session.close();

const second = await open(said.handle);
const asked = await ask(second, 'What is the secret code?');
second.session.close();

console.log(JSON.stringify({
  answers: [said.answer, asked.answer],
  handles: [said.handle, asked.handle],
  promptTokenCount: asked.usage.promptTokenCount,
}));
