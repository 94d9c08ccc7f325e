// Session resumption: tells the model a password, closes, reconnects with the last handle
// and asks for it. Prints one JSON line: both answers, the two handles used, and
// the promptTokenCount of the resumed turn.
import { ask, open } from './resumable.mjs';

const first = await open();
const said = await ask(first, 'The password is banana.');
first.session.close();

const second = await open(said.handle);
const asked = await ask(second, 'What is the password?');
second.session.close();

console.log(JSON.stringify({
  answers: [said.answer, asked.answer],
  handles: [said.handle, asked.handle],
  promptTokenCount: asked.usage.promptTokenCount,
}));
