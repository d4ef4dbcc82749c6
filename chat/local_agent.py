"""The built-in LOCAL assistant: deterministic, no network.

It reads plain English (the README lists what it understands), makes the
tool calls a good model would (through chat.tools, like any model) and
answers in short sentences that name the task and its number. It is the
quick start's assistant and the fallback when a provider fails.

A message is read in three steps: the filler around a request goes ("can
you", "please", "for me"); the first command of _ROUTES whose pattern
matches says what is asked, with the words that name a task; those words
are a task's number ("task 3", "#3") or words of its title, found among the
user's tasks by chat.matching (stems, near spellings). Two tasks that match
alike are listed back with a question; none is an answer with the closest.
What reads as a date, a time, a repetition or a priority never stays in a
title. Every pattern is linear (todo_project/patterns.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from django.utils import timezone

from accounts.models import User
from chat import matching
from chat.tools import run_tool
from chat.when import DEFAULT_TIME, Schedule, read_ahead, read_schedule, read_shift
from todo_project.patterns import pattern

ToolRecord = dict[str, Any]

QUOTES = "\"'\u201c\u201d\u2018\u2019"  # straight and curly quotes around a title
HELP = (
    'I can manage your tasks. Try: "Add call mom tomorrow at 5pm", "Show my tasks", "What\'s still open?", '
    '"I finished the report", "Move the dentist to Friday", "Make task 3 high priority", '
    '"Rename the plants task to water the garden" or "Delete task 2".'
)
_I = re.IGNORECASE


def respond(user: User, message: str, *, time_zone: str = "UTC") -> tuple[str, list[ToolRecord]]:
    """The reply to one message, and the tool calls made for it. Relative
    dates ("tomorrow", "at 5pm") are read in `time_zone`."""
    agent = _LocalAgent(user, time_zone)
    text = _normalize(message)
    if _GREETING.search(text):
        return _greeting(text), agent.records
    request = _without_filler(text)
    for compiled, handle in _ROUTES:
        match = compiled.search(request)
        if match:
            return handle(agent, match), agent.records
    wish = _WISH.search(text)
    if wish:  # "I want to learn the piano": a task
        return agent.add(wish[1]), agent.records
    dated = agent.statement(request)  # "call mom tomorrow", "water the plants every 3 days"
    if dated is not None:
        return dated, agent.records
    return f"Sorry, I didn't catch that. {HELP}", agent.records


def describe(records: list[ToolRecord]) -> str:
    """Sentences for tool calls already made (by a model that then failed)."""
    sentences = [_describe_one(record["tool"], record["result"]) for record in records]
    return " ".join(sentences) or "Sorry, I couldn't finish that."


@dataclass(frozen=True)
class _Reference:
    """Words that name a task: its number, or words of its title."""

    task_id: int | None
    words: list[str]
    text: str  # as written, for the answers


class _LocalAgent:
    def __init__(self, user: User, time_zone: str = "UTC") -> None:
        self.user = user
        self.time_zone = time_zone
        self.records: list[ToolRecord] = []
        self._listed: list[dict[str, Any]] | None = None  # list_tasks' last answer (status all)

    def _run(self, tool: str, arguments: dict[str, Any]) -> Any:
        result = run_tool(self.user, tool, arguments, time_zone=self.time_zone)
        self.records.append({"tool": tool, "arguments": arguments, "result": result})
        return result

    def _now(self) -> datetime:
        return timezone.now().astimezone(ZoneInfo(self.time_zone))

    # --- Adding ---------------------------------------------------------------

    def add(self, text: str, *, remind: bool = False) -> str:
        quoted = _QUOTED_TITLE.match(_ADD_LEAD.sub("", text, count=1))
        if quoted:  # '"pay parking ticket" with a due date of Friday': the title as quoted
            return self._add(quoted[1], quoted[2], remind=remind)
        return self._add("", text, remind=remind)

    def _add(self, title: str, text: str, *, remind: bool) -> str:
        """A new task titled `title` or, when it is empty, what is left of
        `text` once its list, priority and dates are read."""
        text = _ON_MY_LIST.sub(" ", text)
        priority, text = _take_priority(text)
        schedule = read_schedule(text, self._now(), remind=remind)
        title = _title(title or _ADD_LEAD.sub("", schedule.title, count=1))
        if not title:
            return 'What should the task say? For example "Add call mom tomorrow at 5pm".'
        arguments: dict[str, Any] = {"title": title}
        if priority:
            arguments["priority"] = priority
        arguments.update(schedule.tool_arguments())
        result = self._run("add_task", arguments)
        if _failed(result):
            return _describe_one("add_task", result)
        return f"Added {_named(result)}{_added(priority, schedule)}."

    def statement(self, text: str) -> str | None:
        """Words with a date and no command: the one task of the user's whose
        title they are ("water the plants every 3 days", "make the dentist
        appointment Friday at 4pm"), or else a new task ("call mom tomorrow",
        "I have a dentist appointment on Friday": "Dentist appointment").
        None when `text` is not words with a date or repetition in them."""
        schedule = read_schedule(text, self._now())
        if not schedule.title or not schedule.tool_arguments() or len(schedule.title) > 200:
            return None
        title = _HAVING.sub("", schedule.title, count=1)
        words = matching.words_of(_STATEMENT_LEAD.sub("", title, count=1))
        tasks = self._run("list_tasks", {"status": "pending"})
        found = [] if _failed(tasks) else matching.find(words, tasks).tasks
        if len(found) == 1 and matching.same_words(words, found[0]["title"]):
            return self._schedule(found[0]["id"], schedule)
        return self.add(_HAVING.sub("", text, count=1))

    # --- Lists ----------------------------------------------------------------

    def list_tasks(self, text: str) -> str:
        status = _status_asked(text)
        about = _ABOUT.search(text)
        words = [word for word in matching.words_of(about[1]) if word not in _NOT_SEARCHED] if about else []
        arguments: dict[str, Any] = {"status": status}
        if words:
            arguments["search"] = matching.search_term(words[0])
        tasks = self._run("list_tasks", arguments)
        if _failed(tasks):
            return _describe_one("list_tasks", tasks)
        if len(words) > 1:
            tasks = matching.find(words, tasks).tasks
        priority = _PRIORITY_ASKED.search(text)
        if priority:
            wanted = _priority_word(priority[1])
            tasks = [task for task in tasks if task["priority"] == wanted]
        due = _DUE_ASKED.search(text)
        if due:
            tasks = self._due_within(tasks, due[1].lower())
        counting = _HOW_MANY.search(text) is not None
        which = ", ".join(
            filter(None, [priority and f"{_priority_word(priority[1])} priority", due and _due_words(due[1])])
        )
        return _describe_list(tasks, status, about=" ".join(words), which=which, counting=counting)

    def _due_within(self, tasks: list[dict[str, Any]], words: str) -> list[dict[str, Any]]:
        now = self._now()
        today = now.date()
        kept = []
        for task in tasks:
            due = self._due(task)
            if due is None:
                continue
            if words == "overdue":
                keep = due < now and not task["completed"]
            elif words in ("today", "tonight"):
                keep = due.date() == today
            elif words == "tomorrow":
                keep = (due.date() - today).days == 1
            else:  # this week
                keep = 0 <= (due.date() - today).days < 7 - today.weekday()
            if keep:
                kept.append(task)
        return kept

    # --- Acting on one task ---------------------------------------------------

    def complete(self, reference: str) -> str:
        return self._on_task(reference, self._complete, prefer_pending=True)

    def _complete(self, task_id: int) -> str:
        return _describe_one("complete_task", self._run("complete_task", {"task_id": task_id}))

    def delete(self, reference: str) -> str:
        return self._on_task(reference, self._delete)

    def _delete(self, task_id: int) -> str:
        return _describe_one("delete_task", self._run("delete_task", {"task_id": task_id}))

    def set_priority(self, reference: str, priority: str) -> str:
        wanted = _priority_word(priority)
        return self._on_task(reference, lambda task_id: self._update(
            task_id, {"priority": wanted}, lambda task: f"Made {_named(task)} {wanted} priority."
        ))  # fmt: skip

    def rename(self, reference: str, new_title: str) -> str:
        title = _title(new_title)
        if not title:
            return "What should the new title be?"
        return self._on_task(reference, lambda task_id: self._update(
            task_id, {"title": title}, lambda task: f'Renamed task #{task_id} to "{task["title"]}".'
        ))  # fmt: skip

    def describe_task(self, reference: str, description: str) -> str:
        return self._on_task(reference, lambda task_id: self._update(
            task_id, {"description": description.strip()}, lambda task: f"Added the note to {_named(task)}."
        ))  # fmt: skip

    def change(self, reference: str, to: str) -> str:
        """ "change X to Y": a priority, a date, or else a new title."""
        if priority := _PRIORITY_ONLY.fullmatch(to):
            return self.set_priority(reference, priority[1])
        schedule = read_schedule(to, self._now())
        if not schedule.title and schedule.tool_arguments():
            return self.reschedule(reference, to)
        return self.rename(reference, to)

    def reschedule(self, text: str, when: str | None = None, *, postponing: bool = False) -> str:
        """A new due date or recurrence. `text` holds the task's words and the
        when ("the bill to next week"), unless `when` is given apart. A move
        by so long ("by a week", "an hour later") counts from the task's due
        date; `postponing` with no when at all ("postpone the report") is a
        day later."""
        schedule = read_schedule(when if when is not None else text, self._now())
        if not schedule.tool_arguments():
            return self._shift(text, when, postponing=postponing)
        reference = text if when is not None else _DANGLING_TO.sub("", schedule.title)
        if not reference.strip():
            return "Which task? Say its number or words of its title."
        return self._on_task(reference, lambda task_id: self._schedule(task_id, schedule))

    def _shift(self, text: str, when: str | None, *, postponing: bool) -> str:
        words = when if when is not None else text
        shifted = read_shift(words)
        if shifted is None and not postponing:
            return 'Sorry, I couldn\'t tell when. Try "tomorrow at 5pm", "next Friday" or "by a week".'
        shift, rest = shifted or (relativedelta(days=1), words)
        reference = text if when is not None else _DANGLING_TO.sub("", rest)
        if not reference.strip():
            return "Which task? Say its number or words of its title."

        def move(task_id: int) -> str:
            row = self._row(task_id)
            if row is None:
                return _describe_one("update_task", _NOT_FOUND)
            due, now = self._due(row), self._now()
            by_the_clock = bool(shift.minutes or shift.hours)
            start = due or (
                now if by_the_clock else datetime.combine(now.date(), DEFAULT_TIME, tzinfo=now.tzinfo)
            )
            timed = by_the_clock or (due is not None and due.timetz().replace(tzinfo=None) != DEFAULT_TIME)
            return self._schedule(task_id, Schedule(title="", due_date=start + shift, timed=timed))

        return self._on_task(reference, move)

    def _row(self, task_id: int) -> dict[str, Any] | None:
        """The task as list_tasks shows it (listed once per message), or None."""
        if self._listed is None:
            tasks = self._run("list_tasks", {"status": "all"})
            self._listed = [] if _failed(tasks) else tasks
        return next((task for task in self._listed if task["id"] == task_id), None)

    def _due(self, row: dict[str, Any]) -> datetime | None:
        """A list_tasks row's due date, in the user's zone."""
        if row["due_date"] is None:
            return None
        return datetime.fromisoformat(row["due_date"]).astimezone(ZoneInfo(self.time_zone))

    def remind_about(self, text: str) -> str:
        """ "remind me about the garden task at 7pm": that task's reminder. Words
        that name no task of the user's ("remind me about the dentist tomorrow
        at 3pm") are a new task with a reminder."""
        ahead = read_ahead(text)
        if ahead is not None:  # "remind me about the meeting 10 minutes before"
            return self._on_task(
                _DANGLING_TO.sub("", ahead[1]), lambda task_id: self._remind_ahead(task_id, ahead[0])
            )
        schedule = read_schedule(text, self._now(), remind=True)
        words = _DANGLING_TO.sub("", schedule.title)
        reference = _reference(words)
        reminder = Schedule(title="", remind_at=schedule.remind_at or schedule.due_date, timed=True)
        found_id = None
        if reference.task_id is None and not _NAMED_AS_TASK.search(words):
            tasks = self._run("list_tasks", {"status": "pending"})
            found = [] if _failed(tasks) else matching.find(reference.words, tasks).tasks
            if len(found) != 1:
                return self.add(text, remind=True)
            found_id = found[0]["id"]
        if reminder.remind_at is None:
            return _WHEN_TO_REMIND

        def remind(task_id: int) -> str:
            return self._schedule(task_id, reminder, remind=True)

        return remind(found_id) if found_id is not None else self._on_task(words, remind)

    def _remind_ahead(self, task_id: int, lead: relativedelta) -> str:
        row = self._row(task_id)
        if row is None:
            return _describe_one("update_task", _NOT_FOUND)
        due = self._due(row)
        if due is None:
            return (
                f'"{row["title"]}" (task #{task_id}) has no due date to remind you before. {_WHEN_TO_REMIND}'
            )
        return self._schedule(task_id, Schedule(title="", remind_at=due - lead, timed=True), remind=True)

    def _schedule(self, task_id: int, schedule: Schedule, *, remind: bool = False) -> str:
        return self._update(
            task_id, schedule.tool_arguments(), lambda task: _rescheduled(task, schedule, remind=remind)
        )

    def _update(self, task_id: int, changes: dict[str, Any], said: Callable[[dict[str, Any]], str]) -> str:
        """update_task with `changes`; what was done is `said` of its result."""
        result = self._run("update_task", {"task_id": task_id, **changes})
        if _failed(result):
            return _describe_one("update_task", result)
        return said(result)

    def _on_task(self, text: str, action: Callable[[int], str], *, prefer_pending: bool = False) -> str:
        """Act on the task `text` names: by its number at once; by words, after
        list_tasks (the pattern a good model follows) when one task matches."""
        reference = _reference(text)
        if reference.task_id is not None:
            return action(reference.task_id)
        if not reference.words:
            return f"Which task do you mean? Say its number or words of its title. {HELP}"
        tasks = self._run("list_tasks", {"status": "all"})
        if _failed(tasks):
            return _describe_one("list_tasks", tasks)
        self._listed = tasks
        found = matching.find(reference.words, tasks, prefer_pending=prefer_pending)
        if len(found.tasks) == 1:
            return action(found.tasks[0]["id"])
        if found.tasks:
            options = ", ".join(f'#{task["id"]} "{task["title"]}"' for task in found.tasks[:5])
            return f'More than one task matches "{reference.text}": {options}. Which one? Say its number.'
        closest = found.closest[0] if found.closest else None
        offer = f' The closest is #{closest["id"]} "{closest["title"]}".' if closest else ""
        words = reference.text if len(reference.text) <= 60 else reference.text[:57] + "..."
        return f'I couldn\'t find a task matching "{words}".{offer} Say "show my tasks" to see them all.'


_WHEN_TO_REMIND = 'When should I remind you? Say for example "remind me about task 3 tomorrow at 9am".'
_NOT_FOUND = {"error": "Task not found."}
_CANNOT_REOPEN = (
    "Sorry, I can't mark a task as not done: the tools I have complete, change and delete tasks. "
    "You can untick it in the app."
)

# --- Reading the message -------------------------------------------------------

_GREETING = pattern(
    r"^(?:hi|hello|hey|hiya|yo|good (?:morning|afternoon|evening)|help|what can you do|what do you do"
    r"|how does this work|thanks|thank you|thx|ty|cheers|ok|okay|cool|great|nice)(?: there| you| so much)?$",
    _I,
)
# Around a request: "can you", "please", "could you please", "for me" ...
_FILLER_START = pattern(
    r"^(?:(?:please|pls|plz|kindly|hey|hi|hello|ok|okay|so|um|uh|oh|also|and|then|now|just|quickly"
    r"|actually|alright|right)\b,? ?"
    r"|(?:can|could|would|will) (?:you|u)(?: please| kindly| just)? "
    r"|(?:i want|i'd like|i would like|i wanna|i need) (?:you|u) to "
    r"|(?:help me|go ahead and|let's|lets|let me|i want to|i'd like to|i would like to|i wanna) "
    r"(?=(?:add|create|make|put|note|jot|write down|remember|schedule|mark|tick|check|cross|complete"
    r"|finish|delete|remove|drop|cancel|erase|get rid|change|rename|update|edit|move|push|postpone"
    r"|reschedule|delay|set|see|show|list|know|prioriti|remind)\b))",
    _I,
)
_FILLER_END = pattern(
    r",? (?:please|pls|plz|for me|thanks|thank you|thx|if you can|if possible|when you can|ok|okay)$", _I
)
_WISH = pattern(
    r"^(?:i want to|i'd like to|i would like to|i wanna|i plan to|i'm going to|i am going to) (.+)$", _I
)

_TASK_WORD = r"(?:task|todo|to-do|item|reminder|entry|note)s?"
# "on my list", "to my to-do list", "to the list", "in my tasks".
_ON_MY_LIST = pattern(
    r"\b(?:on|to|onto|in|into|for) (?:my|the|our) (?:todo |to-do |task |tasks |shopping )?"
    r"(?:list|tasks|todos|to-dos)\b",
    _I,
)
_ADD_LEAD = pattern(
    rf"^(?:(?:an?|another|one more|the|new) )?(?:new )?(?:{_TASK_WORD}\b ?)?(?:(?:to|for|called|named|titled"
    r"|that says|saying)\b ?|: ?)?",
    _I,
)
# A title in quotes at the start, and what follows it.
_QUOTED_TITLE = pattern(r"^[\"\u201c]([^\"\u201c\u201d]+)[\"\u201d](.*)$", _I)
_PRIORITY_WORDS = r"(high|low|medium|normal|top|urgent|important|critical|asap)"
_PRIORITY_PHRASE = pattern(
    r"(?:,? ?(?:with|as|at|and|,|it's|it is|this is|that's|marked|make it|set to|mark it)? ?(?:a |an )?"
    rf"(?:{_PRIORITY_WORDS}[- ]priority|priority(?: level)?(?: of| is|:| to)? (high|low|medium|normal|top)"
    r"|(urgent(?:ly)?|asap|important|critical)|(not urgent|no rush|low importance|whenever)"
    r"|(p1|p2|p3)))\b",
    _I,
)
_PRIORITY_ONLY = pattern(rf"(?:an? )?{_PRIORITY_WORDS}(?:[- ]priority)?", _I)
_NAMED_AS_TASK = pattern(rf"^(?:the )?.+ (?:{_TASK_WORD}|one)$|^(?:{_TASK_WORD} |#)?\d+$", _I)
# What is left between a task's words and a date once the date went: "the meeting back [to Friday]".
_DANGLING_TO = pattern(r"(?: (?:back|forward|out|off|up|ahead))?(?: (?:to|for|until|till|on|at|by))?$", _I)
_REFERENCE_ID = pattern(
    rf"^(?:the )?(?:(?:{_TASK_WORD}|number|no\.?) ?)?(?:number |no\.? )?#?(\d{{1,18}})$", _I
)
_REFERENCE_TRIM = pattern(
    rf"^(?:(?:the|my|that|this|our|a|an) )?(?:{_TASK_WORD} )?(?:called |named |titled |about |to )?"
    r"|(?: (?:task|todo|to-do|item|one|thing|entry|reminder)s?)?"
    r"(?: (?:from|off|on) (?:my|the) (?:list|tasks))?$",
    _I,
)

# Lists: what is asked for.
_COMPLETED_ASKED = pattern(
    r"\b(?:completed?|finished|done|did i (?:do|finish|complete|get done)|checked off|ticked off|crossed off"
    r"|accomplished|achieved)\b",
    _I,
)
_PENDING_ASKED = pattern(
    r"\b(?:pending|left|remaining|outstanding|incomplete|unfinished|open"
    r"|not (?:yet )?(?:done|finished|complete)|still|undone|to do|need to do|have to do|due|overdue"
    r"|upcoming|next|yet to|yet"
    r"|(?:haven't|have not|didn't|did not|not) (?:yet )?(?:done|finished|completed?|do))\b",
    _I,
)
_ABOUT = pattern(
    r"\b(?:about|mention|mentions|mentioning|contain|contains|containing|with the words?|with|related to"
    r"|regarding|matching|called|named|titled|that say|on the topic of) ([\w'-]+(?: [\w'-]+){0,3})",
    _I,
)
# Words after "about" that say when or which, not what a task says.
_NOT_SEARCHED = frozenset(
    ("today", "tonight", "tomorrow", "week", "month", "next", "due", "done", "completed", "complete",
     "finished", "pending", "open", "high", "low", "medium", "priority", "urgent", "left", "remaining",
     "still", "overdue")
)  # fmt: skip
_PRIORITY_ASKED = pattern(r"\b(high|low|medium|urgent|important|top)(?:[- ]priority)?\b", _I)
_DUE_ASKED = pattern(r"\b(?:due |for )?(today|tonight|tomorrow|this week|overdue)\b", _I)
_HOW_MANY = pattern(r"\bhow many\b", _I)
_LIST_QUESTION = pattern(
    r"^(?:show|list|display|view|give me|get me|what|what's|whats|which|how many|how much|do i have"
    r"|have i|did i|are there|is there|is anything|anything|any|tell me|let me see|what are|remind me what"
    r"|can i see|can you show|where do i stand|status)\b"
    r"|^(?:(?:completed|finished|done|open|pending|outstanding|remaining|all|my|current|today's|overdue) )?"
    r"(?:tasks|todos|to-dos|items)$",
    _I,
)
_LIST_NAMED = pattern(
    r"\b(?:my|all|our) (?:tasks|todos|to-dos|list|todo list|to-do list)\b"
    r"|^(?:tasks|todos|to-dos|to-do list)$",
    _I,
)

_REF = r"(.+?)"
_DONE = (
    r"(?:done|complete|completed|finished|checked|ticked off|checked off|crossed off|taken care of|sorted"
    r"|handled|over|paid)"
)
# What people say they did to a task ("I paid the rent", "the plants are watered").
_PAST = (
    r"(?:paid|bought|called|sent|emailed|texted|booked|cleaned|fixed|written|wrote|picked up|returned"
    r"|renewed|submitted|watered|fed|walked|visited|mailed|posted|ordered|cancelled|canceled|washed|mowed"
    r"|filed|signed|replied to|answered|cooked|packed|scheduled|printed|prepared|practiced|practised"
    r"|studied|reviewed|updated|cut|trimmed|tidied|vacuumed|ironed|repaired|collected|delivered|shipped)"
)
_STATUS_LIST = r"(?: (?:from|off|on) (?:my|the) (?:todo |to-do )?(?:list|tasks))?"


def _route(source: str) -> re.Pattern[str]:
    return pattern(source, _I)


Handler = Callable[[_LocalAgent, re.Match[str]], str]
# The commands, tried in order on the request (its whitespace collapsed to
# single spaces by _normalize, so " " in a pattern is one space).
_ROUTES: list[tuple[re.Pattern[str], Handler]] = [
    # Questions and lists: "what did I complete?", "which tasks are still open?", "show my tasks about bills".
    (_LIST_QUESTION, lambda agent, m: agent.list_tasks(m.string)),
    # Reminders on a task: "remind me about task 3 at 8", "set a reminder for the garden task at 7pm".
    (
        _route(r"^(?:remind me|ping me|nudge me|alert me) (?:about|of|regarding) (.+)$"),
        lambda agent, m: agent.remind_about(m[1]),
    ),
    (
        _route(r"^(?:set|add|create) (?:a |an )?(?:reminder|alert) (?:for|on|about) (.+)$"),
        lambda agent, m: agent.remind_about(m[1]),
    ),
    # Repeats: "make task 4 repeat every Monday", "repeat the gym task every weekday".
    (
        _route(rf"^(?:make|set|have|let) {_REF} (?:to )?(?:repeat|recur)s? (.+)$"),
        lambda agent, m: agent.reschedule(m[1], m[2]),
    ),
    (
        _route(rf"^(?:repeat|recur) {_REF} ((?:every|each|daily|weekly|monthly|yearly|on) .+)$"),
        lambda agent, m: agent.reschedule(m[1], m[2]),
    ),
    (
        _route(rf"^{_REF} (?:should |must |will |has to |needs to )?(?:repeat|recur|happen)s? (.+)$"),
        lambda agent, m: agent.reschedule(m[1], m[2]),
    ),
    (
        _route(
            rf"^(?:make|set|turn) {_REF} (?:into )?(?:an? )?(daily|weekly|monthly|yearly)"
            r"(?: task| thing| one)?$"
        ),
        lambda agent, m: agent.reschedule(m[1], m[2]),
    ),
    (
        _route(
            rf"^{_REF} (?:happens|is|occurs|takes place|comes up|is due)"
            r" ((?:every|each) .+|daily|weekly|monthly)$"
        ),
        lambda agent, m: agent.reschedule(m[1], m[2]),
    ),
    # Priority: "make the stretch task high priority", "set task 2 priority to high", "prioritize the rent".
    (
        _route(
            r"^(?:change|set|update|make|raise|lower|bump|put)(?: up| down)? (?:the )?priority"
            rf" (?:of|for|on) {_REF} (?:to|as|at) {_PRIORITY_WORDS}(?: priority)?$"
        ),
        lambda agent, m: agent.set_priority(m[1], m[2]),
    ),
    (
        _route(
            rf"^(?:make|set|mark|change|flag|bump|raise|lower|update|move|turn|give|assign) {_REF}(?:'s)?"
            r" (?:priority )?"
            rf"(?:to |as |at |into )?(?:an? )?{_PRIORITY_WORDS}(?:[- ]priority)?$"
        ),
        lambda agent, m: agent.set_priority(m[1], m[2]),
    ),
    (_route(rf"^(?:prioriti[sz]e|star|flag) {_REF}$"), lambda agent, m: agent.set_priority(m[1], "high")),
    (
        _route(rf"^(?:deprioriti[sz]e|lower the priority (?:of|for|on)) {_REF}$"),
        lambda agent, m: agent.set_priority(m[1], "low"),
    ),
    (
        _route(rf"^(?:lower|reduce|decrease|drop|downgrade) {_REF}(?:'s)? priority$"),
        lambda agent, m: agent.set_priority(m[1], "low"),
    ),
    (
        _route(rf"^(?:raise|increase|bump up|bump|upgrade) {_REF}(?:'s)? priority$"),
        lambda agent, m: agent.set_priority(m[1], "high"),
    ),
    (
        _route(rf"^{_REF} (?:is|should be|must be) (?:an? |now )?{_PRIORITY_WORDS}(?:[- ]priority)?$"),
        lambda agent, m: agent.set_priority(m[1], m[2]),
    ),
    # Dates: "move task 3 to tomorrow", "push the electricity bill to next week", "postpone the report".
    (
        _route(
            r"^(?:move|push back|push out|push|postpone|reschedule|re-schedule|delay|shift|bump|defer"
            r"|put off|punt) (.+)$"
        ),
        lambda agent, m: agent.reschedule(m[1], postponing=bool(_POSTPONING.match(m[0]))),
    ),
    (
        _route(
            rf"^(?:change|set|update|move) the (?:due date|date|deadline|due time|time) (?:of|for|on) {_REF} "
            r"(?:to|for|as) (.+)$"
        ),
        lambda agent, m: agent.reschedule(m[1], m[2]),
    ),
    (
        _route(
            rf"^(?:change|set|update|move) {_REF}'s (?:due date|date|deadline|due time) (?:to|for|as) (.+)$"
        ),
        lambda agent, m: agent.reschedule(m[1], m[2]),
    ),
    (
        _route(
            rf"^(?:can|could|would|should) {_REF} be (?:moved|pushed|pushed back|rescheduled|postponed"
            r"|changed|delayed|shifted) (?:to|until|till|for) (.+)$"
        ),
        lambda agent, m: agent.reschedule(m[1], m[2]),
    ),
    (
        _route(rf"^(?:make|set) {_REF} due (.+)$"),
        lambda agent, m: agent.reschedule(m[1], m[2]),
    ),
    (
        _route(rf"^{_REF} (?:is|should be) (?:now )?due (.+)$"),
        lambda agent, m: agent.reschedule(m[1], m[2]),
    ),
    (
        _route(
            rf"^{_REF} (?:should be|needs to be|has to be|must be|is)(?: now)?"
            r" (?:moved to|done by|done on|done|on|by|for) (.+)$"
        ),
        lambda agent, m: agent.reschedule(m[1], m[2]),
    ),
    # Notes: "add a note to task 3: bring the forms".
    (
        _route(
            rf"^(?:add|put|set|attach|write) (?:a |the )?(?:note|description|details?|comment) (?:to|on|for) "
            rf"{_REF}(?::| saying| that says| -) (.+)$"
        ),
        lambda agent, m: agent.describe_task(m[1], m[2]),
    ),
    # Titles: "rename task 2 to ...", "change the plants task to water the garden".
    (
        _route(
            rf"^(?:change|update|edit|modify|set|rename|retitle) the (?:title|name|text|wording) of {_REF} "
            r"(?:to|into|as) (.+)$"
        ),
        lambda agent, m: agent.rename(m[1], m[2]),
    ),
    (
        _route(rf"^(?:rename|retitle|re-title|relabel|re-name) {_REF} (?:to|as|into) (.+)$"),
        lambda agent, m: agent.rename(m[1], m[2]),
    ),
    (_route(rf"^call {_REF} ([\"\u201c].+[\"\u201d])$"), lambda agent, m: agent.rename(m[1], m[2])),
    (
        _route(
            rf"^(?:change|update|edit|modify|alter|reword|correct|switch|set(?! up)) {_REF}(?:'s)?"
            r"(?: (?:title|name|text|wording))? (?:to say|to read|so it says|to|into) (.+)$"
        ),
        lambda agent, m: agent.change(m[1], m[2]),
    ),
    # Not done again: no tool does it.
    (
        _route(
            rf"^(?:(?:mark|set) {_REF} (?:as )?(?:not done|undone|incomplete|not complete|not completed"
            rf"|unfinished|open|pending)|(?:reopen|re-open|uncomplete|unmark|untick|uncheck|undo) {_REF})$"
        ),
        lambda agent, m: _CANNOT_REOPEN,
    ),
    # Completion: "mark task 3 as done", "done with the dentist", "I finished paying the rent".
    (
        _route(rf"^(?:mark|set|tick|check|cross|flag) (?:off )?{_REF} (?:as |to )?(?:{_DONE}|off)$"),
        lambda agent, m: agent.complete(m[1]),
    ),
    (
        _route(
            rf"^(?:complete|completed|finish|finished|close|tick off|check off|cross off|cross out|knock out"
            rf"|knock off|wrap up|finalize|finalise|mark off|mark done|mark complete) {_REF}{_STATUS_LIST}$"
        ),
        lambda agent, m: agent.complete(m[1]),
    ),
    (
        _route(rf"^(?:i'm |i am |im |we're |we are )?(?:all |finally |now )?(?:done|finished) with {_REF}$"),
        lambda agent, m: agent.complete(m[1]),
    ),
    (
        _route(rf"^(?:done|finished|completed|complete)(?::| -|,) {_REF}$"),
        lambda agent, m: agent.complete(m[1]),
    ),
    (
        _route(
            r"^(?:(?:i|we)(?:'ve| have)?(?: just| already| finally| now)* )?(?:finished|completed|done|did"
            r"|checked off|ticked off|crossed off|wrapped up|got through|took care of|handled|sorted)"
            rf" {_REF}$"
        ),
        lambda agent, m: agent.complete(m[1]),
    ),
    (
        _route(rf"^{_REF} (?:is|are|was|were|has been|have been|got|'s|is now|is all) (?:all )?{_DONE}$"),
        lambda agent, m: agent.complete(m[1]),
    ),
    # "task 2 done", "#4 finished", "the rent done": a number, or words after "the".
    (
        _route(r"^((?:task |number |no\.? )?#?\d{1,18}|the .+?) (?:done|complete|completed|finished)$"),
        lambda agent, m: agent.complete(m[1]),
    ),
    # "call mom - done", "groceries: done", "plants watered".
    (
        _route(r"^(.+?)(?: -|:|,) (?:done|complete|completed|finished)$"),
        lambda agent, m: agent.complete(m[1]),
    ),
    (
        _route(rf"^((?!(?:add|put|new|note|create|remind|remember)\b)\w+) {_PAST}$"),
        lambda agent, m: agent.complete(m[1]),
    ),
    (
        _route(
            rf"^(?:(?:i|we)(?:'ve| have)?(?: just| already| finally)* )?((?:{_PAST}|got|grabbed|went to) .+)$"
        ),
        lambda agent, m: agent.complete(m[1]),
    ),
    (
        _route(
            rf"^{_REF} (?:has been|have been|is|are|was|were|got|is now|are now|is all) (?:all )?{_PAST}$"
        ),
        lambda agent, m: agent.complete(m[1]),
    ),
    # Deletion: "delete task 3", "get rid of the gym task", "I don't need to call Bob anymore".
    (
        _route(
            rf"^(?:delete|remove|get rid of|drop(?! off)|erase|cancel|scrap|trash|discard|ditch|forget about"
            r"|forget|nuke|strike off|strike out|strike|scratch off|scratch|throw away|throw out|bin|axe"
            rf"|kill|wipe) {_REF}{_STATUS_LIST}$"
        ),
        lambda agent, m: agent.delete(m[1]),
    ),
    (
        _route(rf"^take {_REF} (?:off|out of) (?:my|the) (?:todo |to-do )?(?:list|tasks)$"),
        lambda agent, m: agent.delete(m[1]),
    ),
    (
        _route(
            r"^(?:(?:i |we )?(?:don't|do not|no longer|dont) (?:need|have)(?: to)?|no need to)(?: do)?"
            rf" {_REF}(?: anymore| any more)?$"
        ),
        lambda agent, m: agent.delete(m[1]),
    ),
    # Additions: "add call mom with high priority", "put the dentist on my list for tomorrow at 3pm".
    (
        _route(
            r"^(?:add|create|new|put|stick|pop|throw|note down|note|jot down|jot|write down|log|track|capture"
            r"|insert)\b"
            r"(?: (?:me|in|down|up))?:? (.+)$"
        ),
        lambda agent, m: agent.add(m[1], remind=bool(_REMINDER.match(m[1]))),
    ),
    (
        _route(
            rf"^(?:make|schedule|set up|save|create) ((?:an? |another |one more )?(?:new )?{_TASK_WORD}\b.*)$"
        ),
        lambda agent, m: agent.add(m[1], remind=bool(_REMINDER.match(m[1]))),
    ),
    (
        _route(
            r"^(remind me|reminder|remember)(?: that)?"
            r"(?: i (?:need|have|must|got|gotta|ought) to\b| i must\b| to\b|:)? ?(.+)$"
        ),
        lambda agent, m: agent.add(m[2], remind=m[1].lower() != "remember"),
    ),
    (
        _route(
            r"^(?:don'?t let me forget to|don'?t forget to|do not forget to|i need to remember to|remember to"
            r"|i need to|i have to|i've got to|i must|i should|i gotta|i got to|gotta|need to|have to|must"
            r"|todo|to-do|task|new task)(?::| -)? (.+)$"
        ),
        lambda agent, m: agent.add(m[1]),
    ),
    (_LIST_NAMED, lambda agent, m: agent.list_tasks(m.string)),
]
_REMINDER = pattern(r"(?:an? )?reminder\b", _I)
# Before dated words that name a task: "make [the dentist appointment Friday at 4pm]".
_STATEMENT_LEAD = pattern(r"^(?:make|set|put|have|move|schedule|plan) ", _I)
# Before dated words that make a task: "I have [a dentist appointment on Friday]".
_HAVING = pattern(r"^(?:i have|i've got|i got|we have|we've got|there's|there is) (?:an? )?", _I)
_POSTPONING = pattern(r"^(?:postpone|delay|defer|put off|push back|push out|punt|bump)\b", _I)


def _normalize(message: str) -> str:
    text = " ".join(message.replace("\u2019", "'").split())
    return text.rstrip(" .!?")


def _without_filler(text: str) -> str:
    while True:
        shorter = _FILLER_END.sub("", _FILLER_START.sub("", text, count=1), count=1).strip(" ,")
        if shorter == text or not shorter:
            return text
        text = shorter


def _greeting(text: str) -> str:
    if text.lower().startswith(("thank", "thx", "ty", "cheers")):
        return "You're welcome!"
    return f"Hi! {HELP}"


def _reference(text: str) -> _Reference:
    text = text.strip().strip(QUOTES + " ,")
    number = _REFERENCE_ID.fullmatch(text)
    if number:
        return _Reference(int(number[1]), [], text)
    trimmed = _REFERENCE_TRIM.sub("", text).strip().strip(QUOTES + " ,")
    number = _REFERENCE_ID.fullmatch(trimmed)
    if number:
        return _Reference(int(number[1]), [], text)
    return _Reference(None, matching.words_of(trimmed or text), trimmed or text)


def _take_priority(text: str) -> tuple[str | None, str]:
    """The priority a task's words give ("with high priority", "urgent"), and
    the words without it."""
    match = _PRIORITY_PHRASE.search(text)
    if match is None:
        return None, text
    named = match[1] or match[2] or match[3] or match[4] or match[5]
    priority = _priority_word(named)
    rest = f"{text[: match.start()]} {text[match.end() :]}"
    return priority, " ".join(rest.split()).strip(" ,")


def _priority_word(word: str) -> str:
    word = word.lower()
    if word in ("low", "not urgent", "no rush", "low importance", "whenever", "p3"):
        return "low"
    if word in ("medium", "normal", "p2"):
        return "medium"
    return "high"


def _due_words(word: str) -> str:
    word = word.lower()
    return "overdue" if word == "overdue" else f"due {word}"


def _status_asked(text: str) -> str:
    if _PENDING_ASKED.search(text):
        return "pending"
    if _COMPLETED_ASKED.search(text):
        return "completed"
    return "all"


def _title(text: str) -> str:
    text = " ".join(text.split()).strip(" ,;:-").strip(QUOTES).strip().rstrip(" .!?")
    return text[:1].upper() + text[1:] if text else text


def _failed(result: Any) -> bool:
    return isinstance(result, dict) and "error" in result


# --- Answers -----------------------------------------------------------------


def _describe_one(tool: str, result: Any, status: str = "all") -> str:
    if _failed(result):
        if result["error"].startswith("Task "):
            return 'Sorry, I couldn\'t find that task. Say "show my tasks" to see their numbers.'
        return f"Sorry, I couldn't do that: {result['error']}"
    if tool == "list_tasks":
        return _describe_list(result, status)
    name = _named(result)
    return {
        "add_task": f"Added {name}.",
        "complete_task": f"Marked {name} as done. Nice work!",
        "delete_task": f"Deleted {name}.",
        "update_task": f"Updated {name}.",
    }[tool]


def _describe_list(
    tasks: list[dict[str, Any]], status: str, *, about: str = "", which: str = "", counting: bool = False
) -> str:
    """The tasks, a line each; "which": the filters read ("high priority")."""
    kind = {"pending": "open ", "completed": "completed "}.get(status, "")
    matching_words = f' matching "{about}"' if about else ""
    if which:
        matching_words += f" ({which})"
    if not tasks:
        if about or which:
            return f"No {kind}tasks{matching_words}."
        return {
            "pending": "Nothing open: you're all caught up!",
            "completed": "You haven't completed any tasks yet.",
        }.get(status, 'Your list is empty. Add a task by saying "Add ...".')
    lines = []
    for task in tasks:
        notes = [f"{task['priority']} priority"] if task["priority"] != "medium" else []
        if status == "all" and task["completed"]:
            notes.append("done")
        suffix = f" ({', '.join(notes)})" if notes else ""
        lines.append(f"- #{task['id']} {task['title']}{suffix}")
    count = len(tasks)
    heading = f"You have {count} {kind}task{'s' if count != 1 else ''}{matching_words}"
    return "\n".join(
        [heading + ("." if counting and count > 5 else ":"), *([] if counting and count > 5 else lines)]
    )


def _added(priority: str | None, schedule: Schedule) -> str:
    """ ", high priority, due Friday, Dec 11 at 15:00, every Monday, with a reminder then" """
    parts = [f"{priority} priority"] if priority and priority != "medium" else []
    if schedule.due_date is not None:
        parts.append(f"due {_day(schedule.due_date, schedule.timed)}")
    parts += _repeat_parts(schedule)
    if schedule.remind_at is not None and schedule.remind_at == schedule.due_date:
        parts.append("with a reminder then")
    elif schedule.remind_at is not None:
        parts.append(f"with a reminder {_day(schedule.remind_at, True)}")
    return ", " + ", ".join(parts) if parts else ""


def _named(result: dict[str, Any]) -> str:
    """A task as the answers name it: '"Pay the rent" (task #3)'."""
    return f'"{result["title"]}" (task #{result["task_id"]})'


def _rescheduled(result: dict[str, Any], schedule: Schedule, *, remind: bool) -> str:
    name = _named(result)
    if remind:
        return f"I'll remind you about {name} {_day(schedule.remind_at, True)}."
    if schedule.recurrence is not None:
        start = f", starting {_day(schedule.due_date, schedule.timed)}" if schedule.due_date else ""
        return f"{name} now repeats {', '.join(_repeat_parts(schedule))}{start}."
    return f"Moved {name} to {_day(schedule.due_date, schedule.timed)}."


def _repeat_parts(schedule: Schedule) -> list[str]:
    if schedule.recurrence is None:
        return []
    parts = [_repeats(schedule.recurrence)]
    if schedule.repeat_from == "completion":
        parts.append("counted from when you complete it")
    return parts


def _day(moment: datetime | None, timed: bool) -> str:
    """ "Friday, Dec 11", with " at 15:00" when a time was named (no %-d:
    the C library of Alpine's image lacks it)."""
    if moment is None:
        return ""
    day = f"{moment:%A, %b} {moment.day}"
    if timed or moment.timetz().replace(tzinfo=None) != DEFAULT_TIME:
        return f"{day} at {moment:%H:%M}"
    return day


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
