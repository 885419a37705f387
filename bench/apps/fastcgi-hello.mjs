// The tsgi hello app every FastCGI benchmark row serves: 13 bytes of text/plain, as the peers' hello apps.
const HELLO = new TextEncoder().encode('Hello, world!');
const HEADERS = [
  ['Content-Type', 'text/plain'],
  ['Content-Length', String(HELLO.length)],
];

export default function hello(_environ, startResponse) {
  startResponse('200 OK', HEADERS);
  return [HELLO];
}
