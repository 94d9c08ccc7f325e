// Connects with the model named on the command line and prints how the SDK reports
// the outcome: "connected", or the close code and reason that rejected connect().
import { GoogleGenAI, Modality } from '@google/genai';

const ai = new GoogleGenAI({});
const model = process.argv[2] ?? 'gemini-live-2.5-flash-preview';
let closed = null;
try {
  const session = await ai.live.connect({
    model,
    config: { responseModalities: [Modality.TEXT] },
    callbacks: { onmessage: () => {}, onclose: (e) => { closed = e; } },
  });
  console.log('connected');
  session.close();
} catch (error) {
  console.log(`rejected: ${error.message}`);
  if (closed) console.log(`onclose: ${closed.code} ${closed.reason}`);
}
