// Creates an ephemeral token with the API key of the environment, locked to a model, a
// system instruction (the first argument) and 4 output tokens, for one use; then
// connects with it twice, asking for another model, instruction and length. Prints one
// line per outcome: the usage of the answer, or how connect() was rejected.
import { GoogleGenAI, Modality } from '@google/genai';

const ai = new GoogleGenAI({ httpOptions: { apiVersion: 'v1alpha' } });
const token = await ai.authTokens.create({
  config: {
    uses: 1,
    expireTime: new Date(Date.now() + 30 * 60 * 1000).toISOString(),
    newSessionExpireTime: new Date(Date.now() + 60 * 1000),
    liveConnectConstraints: {
      model: 'gemini-live-2.5-flash-preview',
      config: {
        responseModalities: [Modality.TEXT],
        systemInstruction: process.argv[2],
        maxOutputTokens: 4,
      },
    },
    lockAdditionalFields: [],
  },
});
console.log(`created: ${token.name.startsWith('auth_tokens/')}`);

const live = new GoogleGenAI({ apiKey: token.name, httpOptions: { apiVersion: 'v1alpha' } });

async function attempt() {
  let closed = null;
  let finish;
  const finished = new Promise((resolve) => { finish = resolve; });
  try {
    const session = await live.live.connect({
      model: 'no-such-model',
      config: {
        responseModalities: [Modality.TEXT],
        systemInstruction: 'Talk like a pirate, at length.',
        maxOutputTokens: 64,
      },
      callbacks: {
        onmessage: (m) => { if (m.serverContent?.turnComplete) finish(m.usageMetadata); },
        onclose: (e) => { closed = e; },
      },
    });
    session.sendClientContent({ turns: 'Hello' });
    const usage = await finished;
    console.log(`answered: ${usage.promptTokenCount} ${usage.responseTokenCount}`);
    session.close();
  } catch (error) {
    console.log(`rejected: ${error.message}`);
    if (closed) console.log(`onclose: ${closed.code} ${closed.reason}`);
  }
}

await attempt();
await attempt();
