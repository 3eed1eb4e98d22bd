"""The case view in each coordinator language: labels and the questionnaire's texts in the
reader's language, what the applicant and coordinators wrote as they wrote it."""

from __future__ import annotations

import json

from bot.i18n import Catalog
from bot.services.case_view import InboxEntry, render_case
from tests.intake_driver import default_questionnaire

DAY = 1_799_971_200  # 2027-01-15 00:00 UTC


def _answer(value: object, uncertain: bool = False) -> bytes:
    return json.dumps({"value": value, "uncertain": uncertain}).encode()


def _entry(at: int, text: str) -> bytes:
    return json.dumps({"at": at, "by": "C-7K3Q", "text": text}).encode()


FIELDS = {
    "language": b"my",
    "answer:who": _answer("self"),
    "answer:service": _answer("police"),
    "answer:family": _answer(3),
    "answer:call_name": _answer("ကိုဇော်", uncertain=True),
    "note:0001": _entry(DAY + 8 * 3600, "Called on Monday"),
    "ask:0001": _entry(DAY + 8 * 3600 + 60, "ဘယ်မြို့နားမှာ ရှိလဲ"),
    "decision": json.dumps({"text": "Story holds"}).encode(),
    "handoff": json.dumps({"text": "A volunteer calls on Friday"}).encode(),
}
INBOX: list[InboxEntry] = [(DAY + 8 * 3600 + 180, "မုံရွာနား", True)]


def _render(status: str, language: str | None) -> str:
    return render_case(
        code="K7QX",
        status=status,
        submitted_at=DAY,
        fields=FIELDS,
        inbox=INBOX,
        questionnaire=default_questionnaire(),
        catalog=Catalog(),
        language=language,
    )


def test_a_burmese_coordinator_reads_the_case_in_burmese() -> None:
    assert _render("claimed", "my").splitlines() == [
        "ကိစ္စ K7QX · ယူထားပြီး",
        "ပို့တဲ့ရက်: ၂၀၂၇-၀၁-၁၅",
        "လျှောက်ထားသူရဲ့ ဘာသာစကား: my",
        "",
        "• ဒီဖောင်ကို ဘယ်သူ့အတွက် ဖြည့်နေတာလဲ။",
        "   → ကိုယ်တိုင်အတွက်",
        "• သက်ဆိုင်သူက ဘယ်အဖွဲ့မှာ တာဝန်ထမ်းနေတာလဲ။",
        "   → ရဲတပ်ဖွဲ့",
        "• သက်ဆိုင်သူနဲ့အတူ မိသားစုဝင် ဘယ်နှယောက် လိုက်လာမလဲ။",
        "   → ၃",
        "• အဖွဲ့က သက်ဆိုင်သူကို ဘယ်နာမည်နဲ့ ခေါ်ရမလဲ။",
        "   → ကိုဇော်  ⚠ ဖောင့် မသေချာ (ဇော်ဂျီ ဖြစ်နိုင်တယ်): သတိထားပြီး ဖတ်ပါ",
        "",
        "မှတ်စုနဲ့ မေးခွန်းတွေ:",
        "  ၂၀၂၇-၀၁-၁၅ ၀၈:၀၀ UTC C-7K3Q မှတ်စု: Called on Monday",
        "  ၂၀၂၇-၀၁-၁၅ ၀၈:၀၁ UTC C-7K3Q မေးခဲ့: ဘယ်မြို့နားမှာ ရှိလဲ",
        "  ၂၀၂၇-၀၁-၁၅ ၀၈:၀၃ UTC လျှောက်ထားသူ ပြန်ဖြေ: မုံရွာနား ⚠ ဖောင့် မသေချာ",
        "",
        "ဆုံးဖြတ်ချက်: Story holds",
        "",
        "ပို့ပြီးတဲ့ နောက်တစ်ဆင့်: A volunteer calls on Friday",
    ]


def test_english_reads_as_it_always_did() -> None:
    expected = [
        "Case K7QX · claimed",
        "Submitted 2027-01-15",
        "Applicant's language: my",
        "",
        "• Who are you filling this in for?",
        "   → For myself",
        "• Which service does the person belong to?",
        "   → Police",
        "• How many family members would come with the person?",
        "   → 3",
        "• What name should the team use for the person?",
        "   → ကိုဇော်  ⚠ encoding uncertain (may be Zawgyi): read with care",
        "",
        "Notes and questions:",
        "  2027-01-15 08:00 UTC C-7K3Q note: Called on Monday",
        "  2027-01-15 08:01 UTC C-7K3Q asked: ဘယ်မြို့နားမှာ ရှိလဲ",
        "  2027-01-15 08:03 UTC applicant answered: မုံရွာနား ⚠ encoding uncertain",
        "",
        "Decision: Story holds",
        "",
        "Next step sent: A volunteer calls on Friday",
    ]
    assert _render("claimed", "en").splitlines() == expected
    assert _render("claimed", None).splitlines() == expected  # the offline recovery's view


def test_the_state_is_a_word_not_a_column_value() -> None:
    assert _render("handed_off", "en").splitlines()[0] == "Case K7QX · handed off"
    assert _render("handed_off", "my").splitlines()[0] == "ကိစ္စ K7QX · လွှဲပြောင်းပြီး"
