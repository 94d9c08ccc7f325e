// Failover through a load balancer: tells the model a password on one connection and prints
// {"answer", "handle"}; then waits for a line on stdin (the test kills or stops the node
// meanwhile), reconnects with the last handle and asks for it. Prints one more
// JSON line: the answer, the resumed turn's promptTokenCount, and whether the first
// connection was sent goAway before it ended.
import { createInterface } from 'node:readline';
import { ask, open } from './resumable.mjs';

const first = await open();
const said = await ask(first, 'The password is banana.');
first.finish();  // left open: the node under it is killed
console.log(JSON.stringify({ answer: said.answer, handle: said.handle }));

const lines = createInterface({ input: process.stdin });
for await (const _ of lines) break;
const goAway = first.messages.some((message) => message.goAway !== undefined);

const second = await open(said.handle);
const asked = await ask(second, 'What is the password?');
second.finish();
second.session.close();
console.log(JSON.stringify({
  answer: asked.answer, promptTokenCount: asked.usage.promptTokenCount, goAway,
}));
process.exit(0);
