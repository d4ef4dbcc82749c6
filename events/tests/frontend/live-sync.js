// A task list kept in sync (the README's client): the cursor of now, the full list, then every
// change after that cursor through an EventSource with a single-use ticket; after an error, again
// from the last cursor with a new ticket; after cursor_expired, from a full list.
function liveTasks(api, userId, token, show) {
  const call = (path, method = "GET") => fetch(`${api}/api/${userId}${path}`,
    { method, headers: { Authorization: `Bearer ${token}` } }).then((r) => r.json());
  const tasks = new Map();
  let cursor = null;
  const connect = async () => {
    if (cursor === null) {
      cursor = (await call("/changes")).cursor;
      tasks.clear(); for (const task of await call("/tasks")) tasks.set(task.id, task); show(tasks);
    }
    const { ticket } = await call("/events/ticket", "POST");
    const source = new EventSource(`${api}/api/${userId}/events?ticket=${ticket}&since=${cursor}`);
    const apply = (event) => { const change = JSON.parse(event.data); cursor = change.cursor;
      if (change.type === "task.deleted") tasks.delete(change.task.id);
      else if (change.task) tasks.set(change.task.id, change.task);
      show(tasks, change); };
    for (const type of ["task.created", "task.updated", "task.deleted", "notification.created", "notification.updated"])
      source.addEventListener(type, apply);
    source.addEventListener("cursor_expired", () => { cursor = null; });
    source.onerror = () => { source.close(); setTimeout(connect, 1000); };
    return source;
  };
  return connect();
}
