"""Small hand-written eval sets (written for these tests) in the layout the job spec points at."""

from __future__ import annotations

import json
from pathlib import Path

PAIRS = {
    "ar": [
        ("The river rose after the rain.", "ارتفع النهر بعد المطر."),
        ("She bought fresh bread.", "اشترت خبزا طازجا."),
        ("The train leaves at seven.", "يغادر القطار في السابعة."),
        ("The museum is closed today.", "المتحف مغلق اليوم."),
        ("Children learn new words quickly.", "يتعلم الأطفال كلمات جديدة بسرعة."),
        ("The library lends books to everyone.", "تعير المكتبة الكتب للجميع."),
    ],
    "zh": [
        ("The river rose after the rain.", "雨后河水上涨了。"),
        ("She bought fresh bread.", "她买了新鲜的面包。"),
        ("The train leaves at seven.", "火车七点出发。"),
        ("The museum is closed today.", "博物馆今天关门。"),
        ("Children learn new words quickly.", "孩子们很快就学会了新词。"),
        ("The library lends books to everyone.", "图书馆向所有人借书。"),
    ],
}

QA = {
    "zh": [
        {"id": "zh-1", "context": "长江是中国最长的河流。", "question": "中国最长的河流是什么？", "answers": ["长江"]},
        {"id": "zh-2", "context": "北京是中国的首都。", "question": "中国的首都是哪里？", "answers": ["北京"]},
    ],
    "ar": [
        {"id": "ar-1", "context": "القاهرة هي عاصمة مصر.", "question": "ما هي عاصمة مصر؟", "answers": ["القاهرة"]},
        {"id": "ar-2", "context": "النيل أطول نهر في أفريقيا.", "question": "ما أطول نهر في أفريقيا؟",
         "answers": ["النيل"]},
    ],
}


def write_eval_sets(root: str | Path, langs=("ar", "zh")) -> dict:
    """Write TSV and QA files under ``root`` and return an eval spec section pointing at them."""
    root = Path(root)
    (root / "eval").mkdir(parents=True, exist_ok=True)
    (root / "qa").mkdir(parents=True, exist_ok=True)
    translation, qa = {}, {}
    for lang in langs:
        path = root / "eval" / f"en-{lang}.tsv"
        path.write_text(f"en\t{lang}\n" + "".join(f"{en}\t{xx}\n" for en, xx in PAIRS[lang]), encoding="utf-8")
        translation[lang] = {"path": str(path)}
        qpath = root / "qa" / f"{lang}.jsonl"
        qpath.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in QA[lang]), encoding="utf-8")
        qa[lang] = {"path": str(qpath)}
    return {
        "every_steps": 10, "at_end": True, "batch_size": 4, "max_new_tokens": 8, "max_segments": None,
        "comet_model": "tiny-local", "metrics": ["comet", "spbleu", "chrf"],
        "translation": translation, "qa": qa, "alignment": {"enabled": True, "max_sentences": 50},
    }
