// Sends one chat message the way useChat does (the `ai` package's
// DefaultChatTransport: its body, its headers, its fetch) and reads the answer
// with the package's own parser (the transport's uiMessageChunkSchema check,
// then readUIMessageStream). Prints one JSON line: the final UI message, each
// snapshot's text with the milliseconds since the request was sent, and the
// errors the stream reported.
//
// Input (stdin, JSON): {api, token, chatId, messages, trigger?}
import { DefaultChatTransport, readUIMessageStream } from "ai";

const input = JSON.parse(await new Response(process.stdin).text());
const transport = new DefaultChatTransport({
  api: input.api,
  headers: { Authorization: `Bearer ${input.token}` },
});
const started = performance.now();
const stream = await transport.sendMessages({
  chatId: input.chatId,
  messages: input.messages,
  trigger: input.trigger ?? "submit-message",
  messageId: undefined,
  abortSignal: undefined,
});
const errors = [];
const snapshots = [];
let message;
for await (const snapshot of readUIMessageStream({ stream, onError: (error) => errors.push(String(error.message)) })) {
  const text = snapshot.parts.filter((part) => part.type === "text").map((part) => part.text).join("");
  snapshots.push({ ms: performance.now() - started, text, parts: snapshot.parts.length });
  message = snapshot;
}
console.log(JSON.stringify({ message, snapshots, errors }));
