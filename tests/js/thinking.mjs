// Thinking with thoughts shown: the thinking model reasons within a small budget, then
// answers in speech. Prints how many thought parts arrived, what the SDK's `.text` gave
// (thought parts are not text to it), the audio's size and usageMetadata's
// thoughtsTokenCount, one line each.
import { GoogleGenAI, Modality } from '@google/genai';

const ai = new GoogleGenAI({});
const messages = [];
let wake = () => {};
const next = async () => {
  while (messages.length === 0) await new Promise((resolve) => { wake = resolve; });
  return messages.shift();
};

const session = await ai.live.connect({
  model: 'gemini-2.5-flash-exp-native-audio-thinking-dialog',
  config: {
    responseModalities: [Modality.AUDIO],
    thinkingConfig: { thinkingBudget: 24, includeThoughts: true },
    temperature: 0,
    maxOutputTokens: 30,
  },
  callbacks: {
    onmessage: (message) => { messages.push(message); wake(); },
    onerror: (e) => { console.error(e.message); process.exit(1); },
  },
});

console.warn = () => {}; // .text warns about the audio parts on every call
session.sendClientContent({ turns: 'What is two plus three?' });
let thoughts = 0;
let text;
let audio = 0;
let usage;
for (;;) {
  const message = await next();
  for (const part of message.serverContent?.modelTurn?.parts ?? []) {
    if (part.thought) thoughts += 1;
    if (part.inlineData) audio += Buffer.from(part.inlineData.data, 'base64').length;
  }
  if (message.text !== undefined) text = (text ?? '') + message.text;
  if (message.usageMetadata) usage = message.usageMetadata;
  if (message.serverContent?.turnComplete) break;
}
console.log(`thought parts: ${thoughts}`);
console.log(`text: ${text}`);
console.log(`audio bytes: ${audio}`);
console.log(`thoughtsTokenCount: ${usage?.thoughtsTokenCount}`);
session.close();
