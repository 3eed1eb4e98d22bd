"""The peer: the same form written the way python-telegram-bot's examples teach.

A ``ConversationHandler`` (as in the library's ``conversationbot.py``), ``PicklePersistence``
(``persistentconversationbot.py``), the library's default HTTP transport (httpx), answers kept in
``user_data`` in the clear, updates handled one at a time, ``run_polling``. It asks the same
questions with the same buttons as the bot, so the same simulated applicants fill it in; what
it leaves out (encryption, a database, clearing the chat, a coordinators' group) is the bot's
work the comparison weighs.

Run by the benchmark as ``python -m bench.peer --base-url URL --persistence FILE`` (the token
in ``BOT_TOKEN``).
"""

from __future__ import annotations

import argparse
import os
import secrets
from typing import Any

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    PicklePersistence,
    filters,
)

from bench.script import LANG, default_questionnaire
from bot.i18n import LANGUAGES, Catalog
from bot.intake.questionnaire import Question, QuestionKind

LANGUAGE, CONSENT, QUESTION, CONFIRM = range(4)
FORM = default_questionnaire()
TEXTS = Catalog(LANGUAGES)


def _t(key: str) -> str:
    return TEXTS.text(LANG, key)


def _query(update: Update) -> CallbackQuery:
    if update.callback_query is None:
        raise TypeError("a button handler got no callback query")
    return update.callback_query


def _message(update: Update) -> Message:
    if update.message is None:
        raise TypeError("a message handler got no message")
    return update.message


def _data(context: ContextTypes.DEFAULT_TYPE) -> dict[Any, Any]:
    if context.user_data is None:
        raise TypeError("no user_data: the update has no user")
    return context.user_data


def _question_markup(question: Question) -> InlineKeyboardMarkup | None:
    buttons: list[list[InlineKeyboardButton]] = []
    if question.kind in (QuestionKind.CHOICE, QuestionKind.MULTI):
        buttons = [
            [InlineKeyboardButton(TEXTS.localize(LANG, o.text), callback_data=f"opt:{o.id}")]
            for o in question.options
        ]
    if question.kind is QuestionKind.MULTI:
        buttons.append([InlineKeyboardButton(_t("done"), callback_data="done:")])
    if question.kind is QuestionKind.YESNO:
        buttons = [
            [
                InlineKeyboardButton(_t("yes"), callback_data="yes:"),
                InlineKeyboardButton(_t("no"), callback_data="no:"),
            ]
        ]
    if question.optional:
        buttons.append([InlineKeyboardButton(_t("skip"), callback_data="skip:")])
    return InlineKeyboardMarkup(buttons) if buttons else None


def _question_text(question: Question) -> str:
    return TEXTS.localize(LANG, question.text)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    keyboard = [[InlineKeyboardButton("English", callback_data="lang:en")]]
    await _message(update).reply_text(
        "Choose a language.", reply_markup=InlineKeyboardMarkup(keyboard)
    )
    return LANGUAGE


async def language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    query = _query(update)
    await query.answer()
    keyboard = [[InlineKeyboardButton(_t("consent_yes"), callback_data="consent:yes")]]
    await query.edit_message_text(
        "Before you start: what you write goes to the team.",
        reply_markup=InlineKeyboardMarkup(keyboard),
    )
    return CONSENT


async def consent(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    query = _query(update)
    await query.answer()
    data = _data(context)
    data["answers"] = {}
    data["question"] = FORM.first
    question = FORM.question(FORM.first)
    await query.edit_message_text(_question_text(question), reply_markup=_question_markup(question))
    return QUESTION


async def _next(update: Update, context: ContextTypes.DEFAULT_TYPE, answer: object) -> int:
    """Store the answer, then ask the next question (or show the review) by editing or replying."""
    data = _data(context)
    qid: str = data["question"]
    data["answers"][qid] = answer
    following = FORM.next_step(qid, answer if isinstance(answer, str) else None)
    query = update.callback_query
    markup: InlineKeyboardMarkup | None
    if following is None:
        text = "Check your answers, then send.\n" + "\n".join(
            f"{k}: {v}" for k, v in data["answers"].items()
        )
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(_t("submit"), callback_data="send")]])
        state = CONFIRM
    else:
        data["question"] = following
        question = FORM.question(following)
        text, markup, state = _question_text(question), _question_markup(question), QUESTION
    if query is not None:
        await query.edit_message_text(text, reply_markup=markup)
    else:
        await _message(update).reply_text(text, reply_markup=markup)
    return state


async def answer_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    query = _query(update)
    await query.answer()
    data = _data(context)
    kind, _, value = (query.data or "").partition(":")
    question = FORM.question(data["question"])
    if question.kind is QuestionKind.MULTI:
        chosen: list[str] = data.setdefault("chosen", [])
        if kind == "opt":
            chosen.append(value)
            await query.edit_message_text(
                f"{_question_text(question)}\nChosen: {', '.join(chosen)}",
                reply_markup=_question_markup(question),
            )
            return QUESTION
        data["chosen"] = []
        return await _next(update, context, chosen)
    return await _next(update, context, None if kind == "skip" else value or kind)


async def answer_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    message = _message(update)
    question = FORM.question(_data(context)["question"])
    text = message.text or ""
    if question.kind in (QuestionKind.NUMBER, QuestionKind.YEAR):
        if not text.isdigit():
            await message.reply_text("Please write a number.")
            return QUESTION
        return await _next(update, context, int(text))
    if question.kind is not QuestionKind.TEXT:
        await message.reply_text("Please use the buttons.")
        return QUESTION
    return await _next(update, context, text)


async def send(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    query = _query(update)
    await query.answer()
    cases: dict[str, object] = context.bot_data.setdefault("cases", {})
    receipt = secrets.token_hex(4)
    cases[receipt] = _data(context).pop("answers")
    await query.edit_message_text(f"Sent. Your receipt code: {receipt}")
    return ConversationHandler.END


def build(base_url: str, token: str, persistence: str) -> Application:  # type: ignore[type-arg]
    app = (
        Application.builder()
        .token(token)
        .base_url(base_url)
        .persistence(PicklePersistence(filepath=persistence))
        .build()
    )
    app.add_handler(
        ConversationHandler(
            entry_points=[CommandHandler("start", start)],
            states={
                LANGUAGE: [CallbackQueryHandler(language, pattern="^lang:")],
                CONSENT: [CallbackQueryHandler(consent, pattern="^consent:")],
                QUESTION: [
                    CallbackQueryHandler(answer_button, pattern="^(opt|yes|no|skip|done):"),
                    MessageHandler(filters.TEXT & ~filters.COMMAND, answer_text),
                ],
                CONFIRM: [CallbackQueryHandler(send, pattern="^send$")],
            },
            fallbacks=[CommandHandler("start", start)],
            name="intake",
            persistent=True,
        )
    )
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peer", description=__doc__)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--persistence", required=True)
    args = parser.parse_args(argv)
    build(args.base_url, os.environ["BOT_TOKEN"], args.persistence).run_polling()


if __name__ == "__main__":
    main()
