// Session resumption: tells the model a code, closes, reconnects with the last handle
// and asks for the code. Prints one JSON line: both answers, the two handles used, and
// the promptTokenCount of the resumed turn.
import { ask, open } from './resumable.mjs';

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
