"""One applicant's walk through the default questionnaire, as steps a phone would take.

Each step names what must be on screen before it is taken (the question's text, the button to
tap), so a simulated person never acts on a screen the bot has not shown yet.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from bench.timing import TimedServer
from bot.devserver.state import Message
from bot.i18n import LANGUAGES, Catalog
from bot.intake.questionnaire import QuestionKind, Questionnaire, load_questionnaire

LANG = "en"
REPLY_TIMEOUT = 60.0


@dataclass(frozen=True)
class Step:
    text: str | None = None  # typed
    tap: str | None = None  # a button label
    expect: str | None = None  # text the current prompt must contain first


def default_questionnaire() -> Questionnaire:
    return load_questionnaire(None, languages=list(LANGUAGES))


def intake_steps(q: Questionnaire | None = None) -> tuple[Step, ...]:
    """/start, language, consent, every question on the first-option route, then Send."""
    q = q or default_questionnaire()
    cat = Catalog(LANGUAGES)
    steps = [
        Step(text="/start"),
        Step(tap="English"),
        Step(tap=cat.text(LANG, "consent_yes")),
    ]
    qid: str | None = q.first
    while qid is not None:
        question = q.question(qid)
        expect = cat.localize(LANG, question.text)
        choice: str | None = question.options[0].id if question.options else None
        if question.kind is QuestionKind.CHOICE:
            steps.append(Step(tap=cat.localize(LANG, question.options[0].text), expect=expect))
        elif question.kind is QuestionKind.YESNO:
            steps.append(Step(tap=cat.text(LANG, "no"), expect=expect))
            choice = "no"
        elif question.kind is QuestionKind.MULTI:
            steps.append(Step(tap=cat.localize(LANG, question.options[0].text), expect=expect))
            steps.append(Step(tap=cat.text(LANG, "done"), expect=expect))
        elif question.kind is QuestionKind.NUMBER:
            steps.append(Step(text=str(question.min or 0), expect=expect))
        elif question.kind is QuestionKind.YEAR:
            steps.append(Step(text="2021", expect=expect))
        elif question.optional:
            steps.append(Step(tap=cat.text(LANG, "skip"), expect=expect))
        else:
            steps.append(Step(text="x", expect=expect))
        qid = q.next_step(qid, choice)
    steps.append(Step(tap=cat.text(LANG, "submit")))
    return tuple(steps)


def _ready(server: TimedServer, chat_id: int, step: Step) -> Message | bool | None:
    """The message to tap (or True for a typed step) once the screen shows what ``step`` needs."""
    chat = server.state.chats.get(chat_id)
    if chat is None:
        return step.tap is None and step.expect is None
    shown = [m for m in chat.messages.values() if m.from_bot and not m.deleted]
    current = (shown[-1].text or "") if shown else ""
    if step.tap is None and step.expect is not None and step.expect not in current:
        return None
    for message in reversed(shown):
        if step.expect is not None and step.expect not in (message.text or ""):
            continue
        if step.tap is None:
            return True
        for row in message.inline or []:
            if any(b.get("text") == step.tap for b in row):
                return message
    return None


def _button_data(message: Message, label: str) -> str:
    for row in message.inline or []:
        for button in row:
            if button.get("text") == label and isinstance(button.get("callback_data"), str):
                return str(button["callback_data"])
    raise LookupError("the button went away")


@dataclass
class Person:
    """A simulated applicant; latencies are seconds from acting to the bot's first reply."""

    server: TimedServer
    user_id: int
    latencies: list[float] = field(default_factory=list)
    actions: int = 0
    missed: int = 0
    last_answer_at: float = 0.0  # perf_counter time of the latest reply

    async def wait_ready(self, step: Step, timeout: float = REPLY_TIMEOUT) -> Message | bool:  # noqa: ASYNC109
        deadline = time.perf_counter() + timeout
        changed = self.server.log.changed(self.user_id)
        while True:
            changed.clear()
            found = _ready(self.server, self.user_id, step)
            if found:
                return found
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise TimeoutError("the bot did not show the next step")
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                continue

    async def act(self, step: Step, target: Message | bool) -> asyncio.Future[float]:
        """Take one step; returns a future holding the time it was taken when the reply came."""
        log = self.server.log
        reply = log.expect_reply(self.user_id)
        started = time.perf_counter()
        if step.text is not None:
            await self.server.send_text(self.user_id, step.text, first_name="Test")
        else:
            if not isinstance(target, Message) or step.tap is None:
                raise TypeError("a tap needs the message that shows the button")
            data = _button_data(target, step.tap)
            await self.server.press_button(self.user_id, target.message_id, data)
        self.actions += 1
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()

        def measured(fut: asyncio.Future[float]) -> None:
            if fut.cancelled():
                done.cancel()
            else:
                self.latencies.append(fut.result() - started)
                self.last_answer_at = max(self.last_answer_at, fut.result())
                done.set_result(started)

        reply.add_done_callback(measured)
        return done

    async def step(self, step: Step) -> None:
        target = await self.wait_ready(step)
        done = await self.act(step, target)
        try:
            await asyncio.wait_for(done, REPLY_TIMEOUT)
        except TimeoutError:
            self.missed += 1
            raise

    async def run(self, steps: tuple[Step, ...]) -> None:
        for step in steps:
            await self.step(step)
