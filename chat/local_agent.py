"""The built-in LOCAL assistant: deterministic, no network.

It reads plain English commands, makes the tool calls a good model would
(through chat.tools, like any model) and answers in sentences that name the
tasks. It is the quick start's assistant and the fallback when a provider
fails."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from accounts.models import User
from chat.tools import run_tool
from chat.when import Schedule, read_schedule
from todo_project.patterns import pattern

ToolRecord = dict[str, Any]

_ID = r"(?:(?:task|todo|item|number|no\.?) ?)?#?(\d+)"
_DONE = r"(?:complete|completed|done|finished|checked off)"
_STOPWORDS = {
    "a", "an", "the", "my", "task", "tasks", "todo", "to-do", "item", "one", "about", "for", "of", "please",
    "that", "this", "from", "list", "on",
}  # fmt: skip

QUOTES = "\"'\u201c\u201d\u2018\u2019"  # straight and curly quotes around a title
HELP = (
    'I can manage your tasks. Try: "Add a task to buy groceries", "Show me all my tasks", '
    '"What\'s pending?", "Mark task 3 as complete", "Delete the meeting task" or '
    "\"Change task 1 to 'Call mom tonight'\"."
)


def respond(user: User, message: str, *, time_zone: str = "UTC") -> tuple[str, list[ToolRecord]]:
    """The reply to one message, and the tool calls made for it. Relative
    dates ("tomorrow", "at 5pm") are read in `time_zone`."""
    agent = _LocalAgent(user, time_zone)
    text = _normalize(message)
    for compiled, handle in _ROUTES:
        match = compiled.search(text)
        if match:
            return handle(agent, match), agent.records
    return f"Sorry, I didn't catch that. {HELP}", agent.records


def describe(records: list[ToolRecord]) -> str:
    """Sentences for tool calls already made (by a model that then failed)."""
    sentences = [_describe_one(record["tool"], record["result"]) for record in records]
    return " ".join(sentences) or "Sorry, I couldn't finish that."


class _LocalAgent:
    def __init__(self, user: User, time_zone: str = "UTC") -> None:
        self.user = user
        self.time_zone = time_zone
        self.records: list[ToolRecord] = []

    def _run(self, tool: str, arguments: dict[str, Any]) -> Any:
        result = run_tool(self.user, tool, arguments, time_zone=self.time_zone)
        self.records.append({"tool": tool, "arguments": arguments, "result": result})
        return result

    def add(self, text: str, *, remind: bool = False) -> str:
        arguments: dict[str, Any] = {}
        priority = _PRIORITY.search(text)
        if priority:
            arguments["priority"] = (priority[1] or "high").lower()
            text = _ADD_PREFIX.sub("", text[: priority.start()] + text[priority.end() :], count=1)
        schedule = self._read_schedule(text, remind=remind)
        arguments["title"] = _title(schedule.title or text)
        arguments.update(schedule.tool_arguments())
        return _describe_one("add_task", self._run("add_task", arguments), schedule=schedule)

    def list_tasks(self, status: str) -> str:
        return _describe_one("list_tasks", self._run("list_tasks", {"status": status}), status=status)

    def complete(self, task_id: int) -> str:
        return _describe_one("complete_task", self._run("complete_task", {"task_id": task_id}))

    def delete(self, task_id: int) -> str:
        return _describe_one("delete_task", self._run("delete_task", {"task_id": task_id}))

    def update(self, task_id: int, changes: dict[str, Any]) -> str:
        return _describe_one("update_task", self._run("update_task", {"task_id": task_id, **changes}))

    def schedule(self, task_id: int, text: str, *, remind: bool = False) -> str:
        """A new due date, recurrence or (with `remind`) reminder for a task."""
        schedule = self._read_schedule(text, remind=remind)
        if remind:
            # Only the reminder changes, never the due date.
            schedule = Schedule(title="", remind_at=schedule.remind_at or schedule.due_date)
        changes = schedule.tool_arguments()
        if not changes:
            return 'Sorry, I couldn\'t tell when. Try "tomorrow at 5pm", "next Friday" or "every Monday".'
        result = self._run("update_task", {"task_id": task_id, **changes})
        return _describe_one("update_task", result, schedule=schedule)

    def _read_schedule(self, text: str, *, remind: bool) -> Schedule:
        return read_schedule(text, timezone.now().astimezone(ZoneInfo(self.time_zone)), remind=remind)

    def by_words(self, phrase: str, action: Callable[[int], str]) -> str:
        """List first, then act by id: the pattern a good model follows."""
        words = [w for w in _WORD.findall(phrase.lower()) if w not in _STOPWORDS]
        if not words:
            return f"Which task do you mean? {HELP}"
        tasks = self._run("list_tasks", {"status": "all", "search": words[0]})
        if isinstance(tasks, dict):  # {"error": ...}: the words were no valid search
            return _describe_one("list_tasks", tasks)
        matches = [t for t in tasks if all(word in t["title"].lower() for word in words)]
        if action == self.complete and len(matches) > 1:
            matches = [t for t in matches if not t["completed"]] or matches
        words_text = " ".join(words)
        if not matches:
            return f'I couldn\'t find a task matching "{words_text}". Say "show my tasks" to see them all.'
        if len(matches) > 1:
            options = ", ".join(f"#{t['id']} {t['title']}" for t in matches[:5])
            example = f"task {matches[0]['id']}"
            return (
                f'Several tasks match "{words_text}": {options}. Which one? Use its number, e.g. "{example}".'
            )
        return action(matches[0]["id"])


# The commands, tried in order on the message with its whitespace collapsed
# (_normalize): single spaces, so the patterns say " " where a run of spaces
# could be matched in many ways. Each is linear (todo_project/patterns.py).
_I = re.IGNORECASE
Handler = Callable[[_LocalAgent, re.Match[str]], str]
_ROUTES: list[tuple[re.Pattern[str], Handler]] = [
    (pattern(r"^(?:hi|hello|hey|help|what can you do)\b", _I), lambda agent, m: f"Hi! {HELP}"),
    # When: "move task 3 to tomorrow at 5pm", "remind me about task 3 at 8",
    # "make task 4 repeat every Monday".
    (
        pattern(rf"^(?:move|reschedule|postpone|push back|push) {_ID} (?:to|until|till) (.+)$", _I),
        lambda agent, m: agent.schedule(int(m[1]), m[2]),
    ),
    (
        pattern(rf"^remind me (?:about|of) {_ID} (.+)$", _I),
        lambda agent, m: agent.schedule(int(m[1]), m[2], remind=True),
    ),
    (
        pattern(rf"^(?:make|set) {_ID} (?:to )?(?:repeat|recur) (.+)$", _I),
        lambda agent, m: agent.schedule(int(m[1]), m[2]),
    ),
    # Updates: "change task 1 to 'Call mom'", "rename task 2 to ...", "set task 2 priority to high".
    (
        pattern(rf"^(?:change|set|update|make) (?:the )?priority of {_ID} to (low|medium|high)$", _I),
        lambda agent, m: agent.update(int(m[1]), {"priority": m[2].lower()}),
    ),
    (
        pattern(
            rf"^(?:change|set|update|make) {_ID}(?:'s)? (?:priority )?(?:to )?(low|medium|high)"
            r"(?: priority)?$",
            _I,
        ),
        lambda agent, m: agent.update(int(m[1]), {"priority": m[2].lower()}),
    ),
    (
        pattern(
            rf"^(?:change|rename|update|edit|retitle) {_ID}(?:'s)? (?:title |name )?(?:to|as|into) (.+)$", _I
        ),
        lambda agent, m: agent.update(int(m[1]), {"title": _title(m[2])}),
    ),
    # Completion by id: "mark task 3 as complete", "finish task 4", "task 3 is done".
    (
        pattern(rf"^(?:mark|set|tick|check) (?:off )?{_ID} (?:as )?(?:{_DONE}|off)$", _I),
        lambda agent, m: agent.complete(int(m[1])),
    ),
    (
        pattern(rf"^(?:complete|finish|close|tick off|check off) {_ID}$", _I),
        lambda agent, m: agent.complete(int(m[1])),
    ),
    (pattern(rf"^{_ID} is {_DONE}$", _I), lambda agent, m: agent.complete(int(m[1]))),
    (
        pattern(rf"^i(?:'ve| have)? (?:finished|completed|done|did) {_ID}$", _I),
        lambda agent, m: agent.complete(int(m[1])),
    ),
    # Deletion by id: "delete task 3", "remove task 2".
    (
        pattern(rf"^(?:delete|remove|cancel|drop|erase|get rid of) {_ID}$", _I),
        lambda agent, m: agent.delete(int(m[1])),
    ),
    # By words: "mark the groceries task as done", "delete the meeting task".
    (
        pattern(rf"^(?:mark|set|tick|check) (?:off )?(.+?) (?:as )?(?:{_DONE}|off)$", _I),
        lambda agent, m: agent.by_words(m[1], agent.complete),
    ),
    (
        pattern(r"^(?:complete|finish|tick off|check off) (.+)$", _I),
        lambda agent, m: agent.by_words(m[1], agent.complete),
    ),
    (
        pattern(r"^i(?:'ve| have)? (?:finished|completed) (.+)$", _I),
        lambda agent, m: agent.by_words(m[1], agent.complete),
    ),
    (
        pattern(r"^(?:delete|remove|cancel|drop|erase|get rid of) (.+)$", _I),
        lambda agent, m: agent.by_words(m[1], agent.delete),
    ),
    # Additions: "add a task to buy groceries", "remind me to ...", "I need to remember to pay bills".
    (
        pattern(
            r"^(?:add|create|make|new|put) (?:an? )?(?:new )?(?:(?:task|todo|to-do|reminder|item)\b ?)?"
            r"(?:to (?:my )?(?:list|tasks)\b ?)?(?:(?:to|for|called|named)\b ?|: ?)?(.+)$",
            _I,
        ),
        lambda agent, m: agent.add(m[1], remind=bool(_REMINDER.search(m[0], 0, m.start(1)))),
    ),
    (pattern(r"^remind me (?:to|about) (.+)$", _I), lambda agent, m: agent.add(m[1], remind=True)),
    (
        pattern(
            r"^(?:don'?t let me forget to|i need to remember to|i need to"
            r"|i have to|i must|i should|i gotta|remember to|todo:|to-do:) (.+)$",
            _I,
        ),
        lambda agent, m: agent.add(m[1]),
    ),
    # Lists: "what have I completed?", "what's pending?", "what's left", "show me all my tasks".
    (pattern(r"\b(?:completed|finished|done)\b", _I), lambda agent, m: agent.list_tasks("completed")),
    (
        pattern(
            r"\b(?:pending|left|remaining|outstanding|incomplete|unfinished|open|still (?:have|need))\b", _I
        ),
        lambda agent, m: agent.list_tasks("pending"),
    ),
    (
        pattern(
            r"^(?:show|list|display|view|see|give me|get|what|which|how many|do i have)\b"
            r"|\b(?:my|all) (?:tasks|todos|to-dos|list)\b",
            _I,
        ),
        lambda agent, m: agent.list_tasks("all"),
    ),
]
_REMINDER = pattern(r"\breminder\b", _I)
_WORD = pattern(r"[\w'-]+")
_PRIORITY = pattern(r"\b(?:(high|low|medium)[- ]priority|(urgent(?:ly)?|asap|important))\b\s*", re.IGNORECASE)
# What is left of "add a ... task to X" once a priority phrase is cut out of it.
_ADD_PREFIX = pattern(
    r"^ ?(?:an? )?(?:new )?(?:(?:task|todo|to-do|reminder|item)\b ?)?(?:(?:to|for|called|named)\b ?|: ?)?",
    re.IGNORECASE,
)


def _normalize(message: str) -> str:
    text = " ".join(message.split())
    return text.rstrip(" .!?")


def _title(text: str) -> str:
    text = text.strip().strip(QUOTES).strip().rstrip(" .!?")
    return text[:1].upper() + text[1:] if text else text


def _describe_one(tool: str, result: Any, status: str = "all", schedule: Schedule | None = None) -> str:
    if isinstance(result, dict) and "error" in result:
        if result["error"].startswith("Task "):
            return 'Sorry, I couldn\'t find that task. Say "show my tasks" to see their numbers.'
        return f"Sorry, I couldn't do that: {result['error']}"
    if tool == "list_tasks":
        return _describe_list(result, status)
    title, task_id = result["title"], result["task_id"]
    return {
        "add_task": f'I\'ve added "{title}" to your list (task #{task_id}){_when(schedule)}.',
        "complete_task": f'Marked "{title}" (task #{task_id}) as complete. Nice work!',
        "delete_task": f'Deleted "{title}" (task #{task_id}).',
        "update_task": f'Updated task #{task_id}: "{title}"{_when(schedule)}.',
    }[tool]


def _describe_list(tasks: list[dict[str, Any]], status: str) -> str:
    kind = {"pending": "pending ", "completed": "completed "}.get(status, "")
    if not tasks:
        return {
            "pending": "Nothing pending: you're all caught up!",
            "completed": "You haven't completed any tasks yet.",
        }.get(status, 'Your list is empty. Add a task by saying "Add a task to ...".')
    lines = []
    for task in tasks:
        notes = [f"{task['priority']} priority"] if task["priority"] != "medium" else []
        if status == "all" and task["completed"]:
            notes.append("done")
        suffix = f" ({', '.join(notes)})" if notes else ""
        lines.append(f"- #{task['id']} {task['title']}{suffix}")
    count = len(tasks)
    heading = f"You have {count} {kind}task{'s' if count != 1 else ''}:"
    return "\n".join([heading, *lines])


def _when(schedule: Schedule | None) -> str:
    """ ", due Monday, Nov 30 at 08:00, every Monday, with a reminder at 08:00" """
    if schedule is None:
        return ""
    parts = []
    if schedule.due_date is not None:
        parts.append(f"due {_day_and_time(schedule.due_date)}")
    if schedule.recurrence is not None:
        parts.append(_repeats(schedule.recurrence))
        if schedule.repeat_from == "completion":
            parts.append("counted from when you complete it")
    if schedule.remind_at is not None and schedule.remind_at == schedule.due_date:
        parts.append("with a reminder then")
    elif schedule.remind_at is not None:
        parts.append(f"with a reminder {_day_and_time(schedule.remind_at)}")
    return ", " + ", ".join(parts) if parts else ""


def _day_and_time(moment: datetime) -> str:
    """ "Monday, Nov 30 at 08:00" (no %-d: the C library of Alpine's image lacks it)."""
    return f"{moment:%A, %b} {moment.day} at {moment:%H:%M}"


def _repeats(rule: str) -> str:
    parts = dict(item.split("=", 1) for item in rule.split(";"))
    unit = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}[parts["FREQ"]]
    interval = int(parts.get("INTERVAL", "1"))
    text = f"every {interval} {unit}s" if interval > 1 else f"every {unit}"
    if "BYDAY" in parts:
        names = {"MO": "Monday", "TU": "Tuesday", "WE": "Wednesday", "TH": "Thursday", "FR": "Friday",
                 "SA": "Saturday", "SU": "Sunday"}  # fmt: skip
        days = [names.get(day[-2:], day) for day in parts["BYDAY"].split(",")]
        text = f"{text} on {', '.join(days)}" if interval > 1 else f"every {', '.join(days)}"
    return text
