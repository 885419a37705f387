// Reads its request body slowly (a pause every MiB) and answers with the byte count: the upload RSS benchmark.
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export default async function slowReader(environ, startResponse) {
  const input = environ['tsgi.input'];
  let total = 0;
  let sincePause = 0;
  for (;;) {
    const chunk = await input.read(64 * 1024);
    if (chunk.length === 0) break;
    total += chunk.length;
    sincePause += chunk.length;
    if (sincePause >= 1024 * 1024) {
      sincePause = 0;
      await sleep(4);
    }
  }
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return [new TextEncoder().encode(String(total))];
}
