// Failover through a load balancer: tells the model a code on one connection and prints
// {"answer", "handle"}; then waits for a line on stdin (the test kills or stops the node
// meanwhile), reconnects with the last handle and asks for the code. Prints one more
// JSON line: the answer, the resumed turn's promptTokenCount, and whether the first
// connection was sent goAway before it ended.
import { createInterface } from 'node:readline';
import { GoogleGenAI, Modality } from '@google/genai';

const ai = new GoogleGenAI({});
const SYSTEM = 'You are a helpful assistant.';

async function open(handle) {
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
      // a killed node ends the first connection: only an error while in use counts
      onerror: (e) => { if (!done) { console.error(e.message); process.exit(1); } },
    },
  });
  const next = async () => {
    while (messages.length === 0) await new Promise((resolve) => { wake = resolve; });
    return messages.shift();
  };
  return { session, next, messages, finish: () => { done = true; } };
}

async function ask({ next, session }, text) {
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

const first = await open();
const said = await ask(first, 'The secret code is 4721.');
first.finish();  // left open: the node under it is killed
console.log(JSON.stringify({ answer: said.answer, handle: said.handle }));

const lines = createInterface({ input: process.stdin });
for await (const _ of lines) break;
const goAway = first.messages.some((message) => message.goAway !== undefined);

const second = await open(said.handle);
const asked = await ask(second, 'What is the secret code?');
second.finish();
second.session.close();
console.log(JSON.stringify({
  answer: asked.answer, promptTokenCount: asked.usage.promptTokenCount, goAway,
}));
process.exit(0);
