// A task list kept in sync with the API, as the README shows it: the cursor
// of now, the full list, then every change after that cursor through an
// EventSource opened with a single-use ticket. On an error the stream is
// opened again from the last cursor with a new ticket; a cursor too old
// (cursor_expired) starts over with a full list.
function liveTasks(api, userId, token, onChange) {
  const tasks = new Map();
  const call = (path, init = {}) =>
    fetch(`${api}/api/${userId}${path}`, { ...init, headers: { Authorization: `Bearer ${token}` } })
      .then((r) => r.json());
  let cursor = null;
  async function connect() {
    if (cursor === null) {
      cursor = (await call("/changes")).cursor;
      tasks.clear();
      for (const task of await call("/tasks")) tasks.set(task.id, task);
      onChange(tasks);
    }
    const { ticket } = await call("/events/ticket", { method: "POST" });
    const source = new EventSource(`${api}/api/${userId}/events?ticket=${ticket}&since=${cursor}`);
    const apply = (event) => {
      const change = JSON.parse(event.data);
      if (change.type === "task.deleted") tasks.delete(change.task.id);
      else if (change.task) tasks.set(change.task.id, change.task);
      cursor = change.cursor;
      onChange(tasks, change);
    };
    for (const type of ["task.created", "task.updated", "task.deleted", "notification.created", "notification.updated"])
      source.addEventListener(type, apply);
    source.addEventListener("cursor_expired", () => { cursor = null; });
    source.onerror = () => { source.close(); setTimeout(connect, 1000); };
    return source;
  }
  return connect();
}
