"""Bot API JSON objects built from the state, shaped as the Bot API documents them."""

from __future__ import annotations

from typing import Any

from bot.devserver.state import Chat, Message, Person, State

MEDIA_KINDS = (
    "photo",
    "document",
    "sticker",
    "voice",
    "video",
    "video_note",
    "audio",
    "location",
    "contact",
    "animation",
    "poll",
)
_CAPTIONED = frozenset({"photo", "document", "voice", "video", "audio", "animation"})


def user_json(person: Person) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": person.id,
        "is_bot": person.is_bot,
        "first_name": person.first_name,
    }
    for key in ("last_name", "username", "language_code"):
        value = getattr(person, key)
        if value is not None:
            data[key] = value
    return data


def me_json(state: State) -> dict[str, Any]:
    return {
        **user_json(state.bot),
        "first_name": state.names.get("", state.bot.first_name),
        "can_join_groups": True,
        "can_read_all_group_messages": not state.group_privacy,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


def chat_json(state: State, chat: Chat) -> dict[str, Any]:
    data: dict[str, Any] = {"id": chat.id, "type": chat.type}
    if chat.type == "private":
        person = state.people.get(chat.id) or state.person(chat.id)
        for key in ("first_name", "last_name", "username"):
            value = getattr(person, key)
            if value is not None:
                data[key] = value
        return data
    data["title"] = chat.title
    if chat.username:
        data["username"] = chat.username
    return data


def chat_full_json(state: State, chat: Chat) -> dict[str, Any]:
    return {
        **chat_json(state, chat),
        "accent_color_id": chat.id % 7,
        "max_reaction_count": 11,
        "accepted_gift_types": {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        },
    }


def message_json(state: State, message: Message, *, nested: bool = False) -> dict[str, Any]:
    chat = state.chats[message.chat_id]
    data: dict[str, Any] = {
        "message_id": message.message_id,
        "date": message.date,
        "chat": chat_json(state, chat),
    }
    if message.from_bot:
        data["from"] = user_json(state.bot)
    elif message.sender_id is not None:
        data["from"] = user_json(state.person(message.sender_id))
    else:
        data["sender_chat"] = chat_json(state, chat)
    if message.edit_date is not None:
        data["edit_date"] = message.edit_date
    if message.protect_content:
        data["has_protected_content"] = True
    if message.reply_to is not None and not nested:
        replied = chat.messages.get(message.reply_to)
        if replied is not None and not replied.deleted:
            data["reply_to_message"] = message_json(state, replied, nested=True)
    data.update(message.extra)
    if message.text is not None:
        if message.kind == "text":
            data["text"] = message.text
            if message.entities:
                data["entities"] = message.entities
        else:
            data["caption"] = message.text
            if message.entities:
                data["caption_entities"] = message.entities
    if message.link_preview_options is not None:
        data["link_preview_options"] = message.link_preview_options
    if message.inline:
        data["reply_markup"] = {"inline_keyboard": message.inline}
    return data


def inaccessible_message_json(state: State, chat: Chat, message_id: int) -> dict[str, Any]:
    """What a callback query carries when its message is gone: Telegram sends date 0."""
    return {"chat": chat_json(state, chat), "message_id": message_id, "date": 0}


def member_json(person: Person, status: str, *, until_date: int = 0) -> dict[str, Any]:
    data: dict[str, Any] = {"status": status, "user": user_json(person)}
    if status == "creator":
        data["is_anonymous"] = False
    elif status == "administrator":
        data.update(
            {
                "can_be_edited": False,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": True,
                "can_manage_video_chats": False,
                "can_restrict_members": False,
                "can_promote_members": False,
                "can_change_info": False,
                "can_invite_users": True,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
            }
        )
    elif status == "kicked":
        data["until_date"] = until_date
    return data


def _file(state: State, prefix: str, size: int, path: str) -> dict[str, Any]:
    """A fresh file id that getFile and the file URL know about."""
    serial = state.serial()
    file_id = f"{prefix}AAMCAgADGQEAAQ{serial:08d}"
    unique = f"AgAD{serial:06d}"
    state.files[file_id] = {
        "file_id": file_id,
        "file_unique_id": unique,
        "file_size": size,
        "file_path": f"{path}/file_{serial}",
    }
    return {"file_id": file_id, "file_unique_id": unique, "file_size": size}


def media_fields(state: State, kind: str, sender: Person) -> dict[str, Any]:
    """Realistic message fields for something a user sends that is not plain text."""
    if kind == "photo":
        return {
            "photo": [
                {**_file(state, "AgAC", 1_200, "photos"), "width": 90, "height": 67},
                {**_file(state, "AgAC", 24_000, "photos"), "width": 320, "height": 240},
                {**_file(state, "AgAC", 98_000, "photos"), "width": 1280, "height": 960},
            ]
        }
    if kind == "document":
        return {
            "document": {
                **_file(state, "BQAC", 48_213, "documents"),
                "file_name": "report.pdf",
                "mime_type": "application/pdf",
            }
        }
    if kind == "sticker":
        return {
            "sticker": {
                **_file(state, "CAAC", 22_000, "stickers"),
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": "\N{SMILING FACE WITH SMILING EYES}",
                "set_name": "TestPack",
            }
        }
    if kind == "voice":
        return {
            "voice": {
                **_file(state, "AwAC", 9_800, "voice"),
                "duration": 3,
                "mime_type": "audio/ogg",
            }
        }
    if kind == "video":
        return {
            "video": {
                **_file(state, "BAAC", 512_000, "videos"),
                "width": 640,
                "height": 360,
                "duration": 5,
                "mime_type": "video/mp4",
            }
        }
    if kind == "video_note":
        return {
            "video_note": {
                **_file(state, "DQAC", 120_000, "video_notes"),
                "length": 240,
                "duration": 4,
            }
        }
    if kind == "audio":
        return {
            "audio": {
                **_file(state, "CQAC", 2_400_000, "music"),
                "duration": 150,
                "performer": "Test Artist",
                "title": "Test Song",
                "mime_type": "audio/mpeg",
            }
        }
    if kind == "animation":
        animation = {
            **_file(state, "CgAC", 80_000, "animations"),
            "width": 320,
            "height": 240,
            "duration": 2,
            "file_name": "loop.mp4",
            "mime_type": "video/mp4",
        }
        return {"animation": animation, "document": dict(animation)}
    if kind == "location":
        return {"location": {"latitude": 16.8409, "longitude": 96.1735}}
    if kind == "contact":
        return {
            "contact": {
                "phone_number": "+95900000000",
                "first_name": sender.first_name,
                "user_id": sender.id,
            }
        }
    if kind == "poll":
        return {
            "poll": {
                "id": str(5_000_000_000 + state.serial()),
                "question": "Which day?",
                "options": [
                    {"persistent_id": "0", "text": "Monday", "voter_count": 0},
                    {"persistent_id": "1", "text": "Tuesday", "voter_count": 0},
                ],
                "total_voter_count": 0,
                "is_closed": False,
                "is_anonymous": False,
                "type": "regular",
                "allows_multiple_answers": False,
                "allows_revoting": True,
                "members_only": False,
            }
        }
    raise ValueError(f"unknown media kind {kind!r}; choose from {', '.join(MEDIA_KINDS)}")


def takes_caption(kind: str) -> bool:
    return kind in _CAPTIONED
