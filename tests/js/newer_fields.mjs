// The newer Live fields through the JavaScript SDK: the session id of setupComplete,
// and the turnComplete of a text turn with its interactionStatus and waitingForInput.
// Prints one JSON line.
import { GoogleGenAI, Modality } from '@google/genai';

const ai = new GoogleGenAI({});
const messages = [];
let wake = () => {};
const next = async () => {
  while (messages.length === 0) await new Promise((resolve) => { wake = resolve; });
  return messages.shift();
};

const session = await ai.live.connect({
  model: 'gemini-live-2.5-flash-preview',
  config: { responseModalities: [Modality.TEXT], temperature: 0, maxOutputTokens: 16 },
  callbacks: {
    onmessage: (message) => { messages.push(message); wake(); },
    onerror: (e) => { console.error(e.message); process.exit(1); },
  },
});

const setup = await next();
session.sendClientContent({ turns: 'Name one colour.' });
let answer = '';
let message = await next();
while (!message.serverContent?.turnComplete) {
  if (message.text) answer += message.text;
  message = await next();
}
session.close();

console.log(JSON.stringify({
  sessionId: setup.setupComplete?.sessionId,
  answer,
  interactionStatus: message.serverContent.interactionStatus,
  waitingForInput: message.serverContent.waitingForInput,
}));
