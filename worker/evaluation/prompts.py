"""Fixed evaluation prompts: the Alpaca template (worker/prompt.py, the one training uses) with one translation
instruction and per-language QA instructions.

``worker.data.translation_prompt`` (the training side) is preferred when it exists so that evaluation asks in the
same words the model was tuned on; ``alpaca_translation_prompt`` here is the fallback with the same template.
"""

from __future__ import annotations

from typing import Callable

from worker.prompt import alpaca_prompt

# English names used inside the translation instruction.
LANGUAGE_NAMES = {
    "en": "English", "ar": "Arabic", "el": "Greek", "hi": "Hindi", "tr": "Turkish", "vi": "Vietnamese",
    "zh": "Chinese", "de": "German", "fr": "French", "es": "Spanish", "ru": "Russian", "ja": "Japanese",
    "ko": "Korean", "sw": "Swahili", "th": "Thai", "id": "Indonesian", "pt": "Portuguese", "it": "Italian",
}

# QA instructions written in the target language (the paper prompts QA in the language of the passage).
QA_INSTRUCTIONS = {
    "en": "Answer the question using a short span copied from the passage.",
    "ar": "أجب عن السؤال بعبارة قصيرة منقولة من النص.",
    "el": "Απάντησε στην ερώτηση με ένα σύντομο απόσπασμα από το κείμενο.",
    "hi": "अनुच्छेद से लिए गए एक छोटे अंश से प्रश्न का उत्तर दीजिए।",
    "tr": "Soruyu metinden alınmış kısa bir ifadeyle yanıtlayın.",
    "vi": "Trả lời câu hỏi bằng một cụm từ ngắn lấy từ đoạn văn.",
    "zh": "请用文章中的一个简短片段回答问题。",
}
QA_FIELD_LABELS = {
    "en": ("Passage", "Question"),
    "ar": ("النص", "السؤال"),
    "el": ("Κείμενο", "Ερώτηση"),
    "hi": ("अनुच्छेद", "प्रश्न"),
    "tr": ("Metin", "Soru"),
    "vi": ("Đoạn văn", "Câu hỏi"),
    "zh": ("文章", "问题"),
}


def language_name(code: str) -> str:
    """English name of a language code, or the code itself when it is not in the table."""
    return LANGUAGE_NAMES.get(code, code)


def alpaca_translation_prompt(src_lang: str, tgt_lang: str, text: str) -> str:
    """The fixed evaluation phrasing of a translation request from ``src_lang`` to ``tgt_lang``."""
    instruction = f"Translate the following sentences from {language_name(src_lang)} to {language_name(tgt_lang)}."
    return alpaca_prompt(instruction, text)


def translation_prompt_function() -> Callable[[str, str, str], str]:
    """The training side's ``translation_prompt`` when it exists, else this module's Alpaca fallback."""
    try:
        from worker.data import translation_prompt  # type: ignore[attr-defined]
    except ImportError:
        return alpaca_translation_prompt
    return translation_prompt


def qa_prompt(lang: str, context: str, question: str) -> str:
    """An extractive-QA request written in ``lang`` (English wording for languages without a translation), in the
    training side's Alpaca template when it exists."""
    instruction = QA_INSTRUCTIONS.get(lang, QA_INSTRUCTIONS["en"])
    passage_label, question_label = QA_FIELD_LABELS.get(lang, QA_FIELD_LABELS["en"])
    return alpaca_prompt(instruction, f"{passage_label}: {context}\n{question_label}: {question}")
