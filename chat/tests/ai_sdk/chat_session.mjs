// A chat as useChat runs it: the `ai` package's AbstractChat (the class that
// @ai-sdk/react's useChat wraps) with DefaultChatTransport, and a plain
// in-memory state where React would keep its own. Sends each message in turn
// with chat.sendMessage({ text }) and prints one JSON line: the messages as
// the page would show them, and the chat's status and error at the end.
//
// Input (stdin, JSON): {api, token, chatId, texts: [...]}
import { AbstractChat, DefaultChatTransport } from "ai";

class MemoryState {
  constructor() {
    this.messages = [];
    this.status = "ready";
    this.error = undefined;
  }
  pushMessage = (message) => { this.messages = this.messages.concat(message); };
  popMessage = () => { this.messages = this.messages.slice(0, -1); };
  replaceMessage = (index, message) => {
    this.messages = [...this.messages.slice(0, index), message, ...this.messages.slice(index + 1)];
  };
  snapshot = (value) => structuredClone(value);
}

class Chat extends AbstractChat {}

const input = JSON.parse(await new Response(process.stdin).text());
const chat = new Chat({
  id: input.chatId,
  state: new MemoryState(),
  transport: new DefaultChatTransport({
    api: input.api,
    headers: { Authorization: `Bearer ${input.token}` },
  }),
});
for (const text of input.texts) {
  await chat.sendMessage({ text });
}
console.log(JSON.stringify({ messages: chat.messages, status: chat.status, error: chat.error?.message ?? null }));
