// A weather conversation with function calling: asks for the weather in Paris, answers
// the call with a forecast, and prints the call and the answer, one line each.
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
  config: {
    responseModalities: [Modality.TEXT],
    temperature: 0,
    maxOutputTokens: 40,
    tools: [{
      functionDeclarations: [{
        name: 'get_weather',
        description: 'Get the current weather in a city.',
        parametersJsonSchema: {
          type: 'object',
          properties: { city: { type: 'string' } },
          required: ['city'],
        },
      }],
    }],
  },
  callbacks: {
    onmessage: (message) => { messages.push(message); wake(); },
    onerror: (e) => { console.error(e.message); process.exit(1); },
  },
});

session.sendClientContent({ turns: "What's the weather like in Paris?" });
let message = await next();
while (!message.toolCall) message = await next();
const [call] = message.toolCall.functionCalls;
console.log(`call: ${call.name} ${JSON.stringify(call.args)}`);

session.sendToolResponse({
  functionResponses: [{ id: call.id, name: call.name, response: { output: { conditions: 'sunny', temperature_c: 18 } } }],
});
let answer = '';
for (;;) {
  message = await next();
  if (message.text) answer += message.text;
  if (message.serverContent?.turnComplete) break;
}
console.log(`answer: ${answer}`);
session.close();
