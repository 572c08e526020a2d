"""Real corpora in the layouts they are published in (issue 13 item 4), as small local files: the WikiMatrix release
TSV (score, sentence, sentence, no header; gzip), OPUS Moses twin files, and FLORES release folders (FLORES-200 /
flores_plus and FLORES-101 names) for evaluation."""

from __future__ import annotations

import gzip

import pytest

from worker.contract import JobSpec
from worker.contract.jobspec import DataSource, JobSpecError, PAIR_FIELDS
from worker.data import DataError, build_mixture, load_source
from worker.evaluation.sources import EvalInputError, read_flores
from worker.model import build_byte_tokenizer

from tests.worker.jobkit import small_job

ROWS = [("1.12", "صباح الخير", "Good morning."), ("1.07", "شكرا جزيلا", "Thank you very much."),
        ("1.01", "نص سيئ", "Bad alignment."), ("1.30", "أين المحطة؟", "Where is the station?")]


def _wikimatrix(tmp_path, name="WikiMatrix.ar-en.tsv.gz"):
    path = tmp_path / name
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.writelines("\t".join(row) + "\n" for row in ROWS)
    return path


def _source(obj):
    return DataSource.from_dict(obj, "data.pairs.ar", PAIR_FIELDS)


def test_the_wikimatrix_release_tsv_with_a_margin_threshold(tmp_path):
    path = _wikimatrix(tmp_path)
    source = _source({"path": str(path), "min_score": 1.04})
    assert source.format == "wikimatrix"  # told by the file name as released
    ds = load_source(source, kind="pairs", lang="ar", base_dir=tmp_path, cache_dir=tmp_path / "c", where="w")
    # The first row is data, not a header; Arabic is the first language of "ar-en", English the source.
    assert list(zip(ds["src"], ds["tgt"])) == [("Good morning.", "صباح الخير"), ("Thank you very much.", "شكرا جزيلا"),
                                               ("Where is the station?", "أين المحطة؟")]
    everything = load_source(_source({"path": str(path)}), kind="pairs", lang="ar", base_dir=tmp_path,
                             cache_dir=tmp_path / "c2", where="w")
    assert len(everything) == 4


def test_wikimatrix_needs_to_know_which_column_is_english(tmp_path):
    path = _wikimatrix(tmp_path, "pairs.wikimatrix.tsv")
    source = _source({"path": str(path), "format": "wikimatrix"})
    with pytest.raises(DataError, match="cannot tell which column of pairs.wikimatrix.tsv is English"):
        load_source(source, kind="pairs", lang="ar", base_dir=tmp_path, cache_dir=tmp_path / "c", where="w")
    named = _source({"path": str(path), "format": "wikimatrix", "fields": {"source": "second"}})
    ds = load_source(named, kind="pairs", lang="ar", base_dir=tmp_path, cache_dir=tmp_path / "c", where="w")
    assert ds["src"][0] == "Good morning."


def test_opus_moses_twin_files(tmp_path):
    prefix = tmp_path / "News-Commentary.ar-en"
    (tmp_path / "News-Commentary.ar-en.en").write_text("".join(r[2] + "\n" for r in ROWS), encoding="utf-8")
    with gzip.open(tmp_path / "News-Commentary.ar-en.ar.gz", "wt", encoding="utf-8") as fh:
        fh.writelines(r[1] + "\n" for r in ROWS)
    source = _source({"path": str(prefix), "format": "moses"})
    ds = load_source(source, kind="pairs", lang="ar", base_dir=tmp_path, cache_dir=tmp_path / "c", where="w")
    assert list(zip(ds["src"], ds["tgt"])) == [(r[2], r[1]) for r in ROWS]
    (tmp_path / "News-Commentary.ar-en.en").write_text("one\ntwo\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"differ in length \(2 en lines, 4 ar lines\)"):
        load_source(source, kind="pairs", lang="ar", base_dir=tmp_path, cache_dir=tmp_path / "c3", where="w")


def test_published_layouts_train_through_the_mixture_and_bad_specs_are_named(tmp_path, data_dir):
    spec = small_job(data_dir)
    spec["data"]["pairs"]["ar"] = {"path": str(_wikimatrix(tmp_path)), "min_score": 1.04}
    spec["allocation"]["ar"] = 3
    mix = build_mixture(JobSpec.from_dict(spec), build_byte_tokenizer(), base_dir=tmp_path, cache_dir=tmp_path / "c")
    entry = next(s for s in mix.report["sources"] if s["source"] == "pairs" and s["lang"] == "ar")
    assert entry["examples"] == 3
    with pytest.raises(JobSpecError, match="min_score applies to the wikimatrix format only"):
        _source({"path": "x.jsonl", "min_score": 1.0})
    with pytest.raises(JobSpecError, match="holds translation pairs, not instructions"):
        DataSource.from_dict({"path": "WikiMatrix.ar-en.tsv"}, "data.english_instructions",
                             ("instruction", "input", "output"))


@pytest.mark.parametrize("names", [("eng_Latn", "arb_Arab"), ("eng", "ara")])
def test_a_flores_release_folder_is_read_for_evaluation(tmp_path, names):
    folder = tmp_path / "flores"
    (folder / "devtest").mkdir(parents=True)
    (folder / "devtest" / f"{names[0]}.devtest").write_text("Hello.\nHow are you?\n", encoding="utf-8")
    (folder / "devtest" / f"{names[1]}.devtest").write_text("مرحبا.\nكيف حالك؟\n", encoding="utf-8")
    pair = read_flores(folder, "devtest", "ar")
    assert pair.english == ["Hello.", "How are you?"] and pair.foreign[0] == "مرحبا."
    with pytest.raises(EvalInputError, match="has no dev file for en"):
        read_flores(folder, "dev", "ar")
    spec = JobSpec.from_dict({**small_job(tmp_path), "eval": {"translation": {"ar": {"flores": str(folder)}}}})
    assert spec.eval.translation["ar"] == {"flores": str(folder), "split": "devtest"}


def test_a_flores_entry_of_a_job_spec_reaches_the_evaluation(tmp_path):
    from worker.evaluation.runner import _load_sets
    from worker.evaluation.settings import EvalSettings

    folder = tmp_path / "flores200"
    (folder / "dev").mkdir(parents=True)
    (folder / "dev" / "eng_Latn.dev").write_text("One.\nTwo.\nThree.\n", encoding="utf-8")
    (folder / "dev" / "ell_Grek.dev").write_text("Ένα.\nΔύο.\nΤρία.\n", encoding="utf-8")
    spec = JobSpec.from_dict({**small_job(tmp_path), "eval": {"max_segments": 2, "translation": {
        "el": {"flores": "flores200", "split": "dev"}}}})
    parallel, _qa, warnings = _load_sets(EvalSettings.from_spec(spec.eval), tmp_path)
    assert parallel["el"].english == ["One.", "Two."] and parallel["el"].foreign == ["Ένα.", "Δύο."]
    assert not [w for w in warnings if w.get("lang") == "el"]


def test_worker_inspect_shows_the_rendered_examples_and_a_summary_per_source(tmp_path, data_dir):
    import json
    import subprocess
    import sys

    from tests.worker.jobkit import REPO, make_job, worker_env

    job = make_job(tmp_path, "job", small_job(data_dir, max_length=300))
    done = subprocess.run([sys.executable, "-m", "worker.cli", "inspect", str(job), "--n", "2"], cwd=REPO,
                          env=worker_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    examples = [x for x in lines if "summary" not in x]
    summaries = [x["summary"] for x in lines if "summary" in x]
    assert {(x["source"], x["lang"]) for x in examples} == {(s["source"], s["lang"]) for s in summaries}
    assert len(examples) == 2 * len(summaries)
    first = examples[0]
    assert first["prompt"].startswith("Below is an instruction that describes a task")
    assert first["prompt"].endswith("### Response:") and first["tokens"] == first["prompt_tokens"] + first["target_tokens"]
    assert any(x["truncated"] for x in examples) == any(s["truncated"] for s in summaries if s["examples"])
    assert (job / "cache").is_dir()  # the run that follows reuses this mixture


def test_moses_lines_split_on_newlines_only_and_wikimatrix_names_its_languages(tmp_path):
    # A stray carriage return inside a Moses line (common in scraped text) must not shift every pair after it.
    (tmp_path / "c.ar-en.en").write_bytes("one\rand a half\ntwo\n".encode())
    (tmp_path / "c.ar-en.ar").write_bytes("واحد\nاثنان\n".encode())
    ds = load_source(_source({"path": str(tmp_path / "c.ar-en"), "format": "moses"}), kind="pairs", lang="ar",
                     base_dir=tmp_path, cache_dir=tmp_path / "c", where="w")
    assert list(zip(ds["src"], ds["tgt"])) == [("one\rand a half", "واحد"), ("two", "اثنان")]
    with pytest.raises(DataError, match="holds ar-en pairs, not zh"):
        load_source(DataSource.from_dict({"path": str(_wikimatrix(tmp_path))}, "data.pairs.zh", PAIR_FIELDS),
                    kind="pairs", lang="zh", base_dir=tmp_path, cache_dir=tmp_path / "c2", where="w")
