// Subscribes to a Mercure hub with the `eventsource` package and prints one
// JSON line per event: {"kind":"open"} once connected, then
// {"kind":"message","id","type","data"} for each update. Exits after COUNT
// messages.
//
//   node node_subscribe.mjs URL COUNT [TOKEN] [TYPE...]
import { EventSource } from "eventsource";

const [url, countArg, token, ...types] = process.argv.slice(2);
const count = Number(countArg);
let received = 0;

const source = new EventSource(url, {
  fetch: (input, init) =>
    fetch(input, {
      ...init,
      headers: token ? { ...init.headers, Authorization: `Bearer ${token}` } : init.headers,
    }),
});

const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const onMessage = (event) => {
  print({ kind: "message", id: event.lastEventId, type: event.type, data: event.data });
  received += 1;
  if (received >= count) {
    source.close();
    process.exit(0);
  }
};
source.onopen = () => print({ kind: "open" });
source.onerror = (error) => print({ kind: "error", message: String(error && error.message) });
source.onmessage = onMessage;
for (const type of types) source.addEventListener(type, onMessage);
setTimeout(() => {
  print({ kind: "timeout" });
  process.exit(2);
}, 20000);
