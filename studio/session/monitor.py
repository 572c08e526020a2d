"""The monitoring model, shared by the Monitor page and the CLI (``follow``, ``jobs``, ``demo``): events in, what a
user reads out (series per metric, language and direction group; progress; log lines; the connection state).

``digest_events`` turns a batch of events (in seq order) into plot-ready arrays and small lists; it runs on a
follower's thread, so the GUI thread only concatenates. ``JobModel.apply`` folds digests into one job's state.

Eval events name the real pair (``direction="en-ar"``) and the language on the non-English side (``lang="ar"``);
the model groups them by ``worker.contract.direction_group`` so one chart shows every language of a group
(``en-xx`` or ``xx-en``). A metric scored by the pipeline-check model carries its note and stays marked here.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from studio.session.series import GrowableSeries
from worker.contract import FINAL_STATES, Event, direction_group, is_pipeline_check

LOG_LINES_KEPT = 5000
QA_GROUP = "qa"
METRIC_ORDER = ("comet", "chrf", "spbleu", "bleu", "qa_hit", "qa_em", "qa_f1")
METRIC_LABELS = {
    "comet": "COMET", "chrf": "chrF++", "spbleu": "spBLEU", "bleu": "BLEU (13a)", "qa_hit": "QA hit rate",
    "qa_em": "QA exact match", "qa_f1": "QA F1", "loss": "eval loss",
}
GROUP_LABELS = {"en-xx": "English → target", "xx-en": "target → English", QA_GROUP: "question answering"}


class ConnectionState(str, enum.Enum):
    """Where a client stands with a job's host: the column in the job table and the Monitor's banner."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    LOST = "lost"
    FINISHED = "finished"
    HISTORY = "history"
    FAILED = "error"

    @property
    def text(self) -> str:
        return _CONNECTION_TEXT[self]

    @property
    def is_trouble(self) -> bool:
        return self in (ConnectionState.RECONNECTING, ConnectionState.LOST, ConnectionState.FAILED)


_CONNECTION_TEXT = {
    ConnectionState.CONNECTING: "connecting…", ConnectionState.CONNECTED: "connected",
    ConnectionState.RECONNECTING: "reconnecting…", ConnectionState.LOST: "lost",
    ConnectionState.FINISHED: "finished", ConnectionState.HISTORY: "history",
    ConnectionState.FAILED: "cannot connect",
}

# Control characters (C0 except tab, DEL, C1) are shown escaped: event text never drives the user's terminal.
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F, *range(0x80, 0xA0))}


def printable(text: Any) -> str:
    """``text`` with control characters escaped (``\\x1b``), safe to print on a terminal or show in a log pane."""
    return str(text).translate(_CONTROL)


def metric_label(metric: str, *, pipeline_check: bool = False) -> str:
    label = METRIC_LABELS.get(metric, metric)
    return f"{label} (pipeline check, not a measurement)" if pipeline_check else label


def eval_group(data: dict[str, Any]) -> str:
    """The chart group of an eval event: ``en-xx`` / ``xx-en`` for translation, ``qa`` for QA, else its direction."""
    if data.get("task") == "qa":
        return QA_GROUP
    direction = str(data.get("direction", ""))
    return direction_group(direction) or direction


@dataclass
class AlignmentSnapshot:
    """One alignment measurement: ``matrix[layer][lang]`` at ``step``."""

    step: int
    metric: str
    langs: list[str]
    layers: list[int]
    matrix: np.ndarray


@dataclass
class EventDigest:
    """A batch of events reduced to what a monitor shows (arrays per series, small lists for the rest)."""

    first_seq: int = -1
    last_seq: int = -1
    count: int = 0
    first_time: float | None = None
    last_time: float | None = None
    train_step: np.ndarray = field(default_factory=lambda: np.empty(0))
    train_loss: np.ndarray = field(default_factory=lambda: np.empty(0))
    train_lr: np.ndarray = field(default_factory=lambda: np.empty(0))
    train_tps: np.ndarray = field(default_factory=lambda: np.empty(0))
    # (metric, lang, group) -> [(step, value)]
    evals: dict[tuple[str, str, str], list[tuple[float, float]]] = field(default_factory=dict)
    pipeline_check: set[str] = field(default_factory=set)
    alignments: list[AlignmentSnapshot] = field(default_factory=list)
    log_lines: list[str] = field(default_factory=list)
    trained_pairs: dict[str, int] = field(default_factory=dict)
    state: str | None = None
    last_step: int | None = None
    total_steps: int | None = None


def _num(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def describe_event(event: Event) -> str | None:
    """One log line for an event of a log-like kind (None for the plotted kinds: train, eval, alignment)."""
    stamp = time.strftime("%H:%M:%S", time.localtime(event.time))
    kind = event.kind
    data = event.data
    if kind == "log":
        level = data.get("level")
        prefix = "warning: " if level == "warning" else ""
        return f"{stamp}  {prefix}{printable(data.get('message', ''))}"
    if kind == "error":
        return f"{stamp}  ERROR {printable(data.get('message', ''))}"
    if kind == "status":
        extra = f" ({printable(data['phase'])})" if data.get("phase") else ""
        return f"{stamp}  state → {printable(data.get('state'))}{extra}"
    if kind == "checkpoint":
        return f"{stamp}  checkpoint at step {printable(data.get('step'))}"
    if kind == "done":
        return f"{stamp}  done (exit code {printable(data.get('exit_code'))})"
    if kind == "data":
        return f"{stamp}  data: {printable(describe_data(data))}"
    return None


def event_line(event: Event) -> str:
    """Any event as one terminal line (``linguatune follow``, the demo's printer): the log-like kinds as in the
    Monitor's log pane, a train step with its loss, an eval point with its pair and metric (a pipeline-check score
    says so), an alignment measurement with its best layer."""
    data = event.data
    kind = event.kind
    if kind == "train":
        total = data.get("total_steps")
        step = f"{data.get('step')}/{total}" if total else str(data.get("step"))
        text = f"step {step}  loss {_num(data.get('loss')):.4f}"
        if data.get("lr") is not None:
            text += f"  lr {_num(data.get('lr')):.2e}"
        if data.get("tokens_per_s") is not None:
            text += f"  {_num(data.get('tokens_per_s')):.0f} tok/s"
    elif kind == "eval":
        metric = str(data.get("metric"))
        label = metric_label(metric, pipeline_check=is_pipeline_check(data))
        where = data.get("direction") or data.get("lang")
        text = (f"eval step {data.get('step')}  {printable(where)}  {metric} {_num(data.get('value')):.3f}  "
                f"[{label}]  (n={data.get('n', '?')})")
    elif kind == "alignment":
        text = f"alignment step {data.get('step')}  {printable(data.get('metric'))}"
        try:
            matrix = np.asarray(data.get("matrix"), dtype=float)
            layers = list(data.get("layers") or [])
            if matrix.ndim == 2 and matrix.shape[0] == len(layers) and matrix.size:
                best = int(np.nanargmax(np.nanmean(matrix, axis=1)))
                text += f"  best layer {layers[best]} (mean {float(np.nanmean(matrix[best])):.3f})"
        except (TypeError, ValueError):
            pass
    else:
        line = describe_event(event)
        if line is not None:
            return f"#{event.seq:<6} {line}"
        text = printable(" ".join(f"{k}={v}" for k, v in data.items()))
        text = f"{kind} {text}"
    stamp = time.strftime("%H:%M:%S", time.localtime(event.time))
    return f"#{event.seq:<6} {stamp}  {printable(text)}"


def describe_data(data: dict[str, Any]) -> str:
    """The data report in one line: examples and tokens, pairs per language."""
    parts = []
    if "examples" in data:
        parts.append(f"{data['examples']} examples")
    if "tokens" in data:
        parts.append(f"{data['tokens']} tokens")
    pairs = _pairs_of_data(data)
    if pairs:
        parts.append("pairs " + ", ".join(f"{code} {n}" for code, n in pairs.items()))
    if "total_steps" in data:
        parts.append(f"{data['total_steps']} steps")
    sources = [e for e in data.get("sources") or [] if isinstance(e, dict)]
    truncated = sum(e["truncated"] for e in sources if isinstance(e.get("truncated"), int))
    dropped = sum(e["too_long"] for e in sources if isinstance(e.get("too_long"), int))
    if truncated or dropped:
        worst = max(sources, key=lambda e: e.get("truncated") if isinstance(e.get("truncated"), int) else 0)
        where = f", most in {worst.get('source')}:{worst.get('lang')}" if truncated else ""
        parts.append(f"{truncated} truncated to max_length{where}"
                     + (f", {dropped} dropped (prompt alone too long)" if dropped else ""))
    return "; ".join(parts) or ", ".join(f"{k}={v}" for k, v in list(data.items())[:6])


def _pairs_of_data(data: dict[str, Any]) -> dict[str, int]:
    """``{lang: pairs trained}`` from a data event's per-source report."""
    out: dict[str, int] = {}
    for entry in data.get("sources") or []:
        if isinstance(entry, dict) and entry.get("source") == "pairs" and isinstance(entry.get("examples"), int):
            out[str(entry.get("lang"))] = entry["examples"]
    return out


def digest_events(events: list[Event]) -> EventDigest:
    """Reduce ``events`` (in seq order) to arrays and lists; cheap enough for a follower's thread."""
    digest = EventDigest(count=len(events))
    if not events:
        return digest
    digest.first_seq, digest.last_seq = events[0].seq, events[-1].seq
    digest.first_time, digest.last_time = events[0].time, events[-1].time
    steps, losses, lrs, tps = [], [], [], []
    nan = float("nan")
    for event in events:
        kind = event.kind
        data = event.data
        if kind == "train":
            steps.append(_num(data.get("step")))
            losses.append(_num(data.get("loss")))
            lr = data.get("lr")
            lrs.append(nan if lr is None else _num(lr))
            rate = data.get("tokens_per_s")
            tps.append(nan if rate is None else _num(rate))
            digest.last_step = data.get("step")
            if isinstance(data.get("total_steps"), int):
                digest.total_steps = data["total_steps"]
        elif kind == "eval":
            metric = str(data.get("metric"))
            key = (metric, str(data.get("lang")), eval_group(data))
            digest.evals.setdefault(key, []).append((_num(data.get("step")), _num(data.get("value"))))
            if is_pipeline_check(data):
                digest.pipeline_check.add(metric)
        elif kind == "alignment":
            try:
                matrix = np.asarray(data.get("matrix"), dtype=float)
            except (TypeError, ValueError):
                continue
            langs = [str(code) for code in data.get("langs") or []]
            layers = [int(layer) for layer in data.get("layers") or []]
            if matrix.ndim != 2 or matrix.shape != (len(layers), len(langs)):
                continue
            digest.alignments.append(
                AlignmentSnapshot(int(_num(data.get("step"))), str(data.get("metric")), langs, layers, matrix)
            )
        else:
            if kind == "status":
                if isinstance(data.get("state"), str):
                    digest.state = data["state"]
                if isinstance(data.get("total_steps"), int):
                    digest.total_steps = data["total_steps"]
            elif kind == "data":
                digest.trained_pairs.update(_pairs_of_data(data))
                if isinstance(data.get("total_steps"), int):
                    digest.total_steps = data["total_steps"]
            line = describe_event(event)
            if line is not None:
                digest.log_lines.append(line)
    if steps:
        digest.train_step = np.asarray(steps, dtype=float)
        digest.train_loss = np.asarray(losses, dtype=float)
        digest.train_lr = np.asarray(lrs, dtype=float)
        digest.train_tps = np.asarray(tps, dtype=float)
    return digest


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass
class JobModel:
    """Everything a monitor holds of one job: its registry record, series, scores, log and connection state.

    ``record`` is a ``studio.remote.registry.JobRecord`` (anything with id, name, host, state, created_at,
    updated_at, plan_summary works). ``apply`` returns the parts that changed, so a face redraws only those.
    """

    record: Any
    train: GrowableSeries = field(default_factory=lambda: GrowableSeries(4))
    evals: dict[tuple[str, str, str], tuple[list[float], list[float]]] = field(default_factory=dict)
    pipeline_check: set[str] = field(default_factory=set)
    alignments: list[AlignmentSnapshot] = field(default_factory=list)
    log_lines: list[str] = field(default_factory=list)
    trained_pairs: dict[str, int] = field(default_factory=dict)
    connection: ConnectionState = ConnectionState.HISTORY
    connection_detail: str = ""
    last_step: int | None = None
    total_steps: int | None = None
    first_event_time: float | None = None
    last_event_time: float | None = None
    events_seen: int = 0

    @property
    def job_id(self) -> str:
        return self.record.id

    @property
    def is_final(self) -> bool:
        return self.record.state in FINAL_STATES

    # --------------------------------------------------------------------------------------------- folding in
    def apply(self, digest: EventDigest) -> set[str]:
        """Fold a digest in; returns the parts that changed (row, train, loss, eval, alignment, log)."""
        changed: set[str] = set()
        self.events_seen += digest.count
        if digest.first_time is not None:
            if self.first_event_time is None:
                self.first_event_time = digest.first_time
            self.last_event_time = digest.last_time
            changed.add("row")
        if len(digest.train_step):
            self.train.extend(digest.train_step, digest.train_loss, digest.train_lr, digest.train_tps)
            changed.add("train")
        for key, points in digest.evals.items():
            steps, values = self.evals.setdefault(key, ([], []))
            for step, value in points:
                steps.append(step)
                values.append(value)
            changed.add("loss" if key[0] == "loss" else "eval")
        self.pipeline_check |= digest.pipeline_check
        if digest.alignments:
            self.alignments.extend(digest.alignments)
            changed.add("alignment")
        if digest.log_lines:
            self.log_lines.extend(digest.log_lines)
            if len(self.log_lines) > LOG_LINES_KEPT:
                del self.log_lines[: len(self.log_lines) - LOG_LINES_KEPT]
            changed.add("log")
        if digest.trained_pairs:
            self.trained_pairs.update(digest.trained_pairs)
        if digest.state and digest.state != self.record.state and not self.is_final:
            self.record.state = digest.state
            changed.add("row")
        if digest.last_step is not None:
            self.last_step = digest.last_step
        if digest.total_steps is not None:
            self.total_steps = digest.total_steps
        return changed

    def add_log(self, line: str) -> None:
        self.log_lines.append(line)

    # ------------------------------------------------------------------------------------------------ reading
    def languages(self) -> list[str]:
        """Languages in plan order, then any others the events name."""
        summary = self.record.plan_summary or {}
        order = [str(item.get("code")) for item in summary.get("languages", []) or [] if isinstance(item, dict)]
        for _metric, lang, _group in self.evals:
            if lang not in order:
                order.append(lang)
        return order

    def metrics(self) -> list[str]:
        """The eval metrics seen (eval loss aside), in a fixed order: COMET, chrF, spBLEU, BLEU, QA, others."""
        seen = {metric for metric, _lang, _group in self.evals if metric != "loss"}
        return sorted(seen, key=lambda m: (METRIC_ORDER.index(m) if m in METRIC_ORDER else len(METRIC_ORDER), m))

    def groups(self, metric: str | None = None) -> list[str]:
        """The direction groups seen (for ``metric``): ``en-xx``, ``xx-en``, then ``qa`` and any others."""
        seen = {g for m, _l, g in self.evals if m != "loss" and (metric is None or m == metric)}
        order = ("en-xx", "xx-en", QA_GROUP)
        return sorted(seen, key=lambda g: (order.index(g) if g in order else len(order), g))

    def series(self, metric: str, group: str) -> dict[str, tuple[list[float], list[float]]]:
        """``{lang: (steps, values)}`` of one metric in one direction group: every language on one chart."""
        return {lang: data for (m, lang, g), data in self.evals.items() if m == metric and g == group}

    def final_scores(self, metric: str, group: str = "en-xx") -> dict[str, float]:
        """The last value of ``metric`` per language in ``group``."""
        return {lang: values[-1] for lang, (_steps, values) in self.series(metric, group).items() if values}

    def is_pipeline_check(self, metric: str) -> bool:
        return metric in self.pipeline_check

    def started(self) -> float:
        return min(self.record.created_at, self.first_event_time or self.record.created_at)

    def elapsed(self, now: float | None = None) -> float:
        """Run time in seconds: from launch (or the first event) to now, or to the end for an ended job."""
        now = time.time() if now is None else now
        end = max(self.record.updated_at, self.last_event_time or 0.0) if self.is_final else now
        return max(0.0, end - self.started())

    def eta(self, now: float | None = None) -> float | None:
        """Seconds left at the pace so far (None before the first step or without a known total)."""
        if self.is_final or not self.total_steps or not self.last_step or self.first_event_time is None:
            return None
        now = time.time() if now is None else now
        spent = max(0.0, (self.last_event_time or now) - self.first_event_time)
        done = max(1, int(self.last_step))
        return max(0.0, spent / done * (self.total_steps - done))

    def progress_text(self, now: float | None = None) -> str:
        """``step 40/120 · 1:20 elapsed · ETA 2:40`` (parts known so far)."""
        parts = []
        if self.last_step is not None:
            parts.append(f"step {self.last_step}/{self.total_steps}" if self.total_steps else f"step {self.last_step}")
        parts.append(f"{format_duration(self.elapsed(now))} elapsed")
        eta = self.eta(now)
        if eta is not None:
            parts.append(f"ETA {format_duration(eta)}")
        return " · ".join(parts)


@dataclass
class DetachedRecord:
    """The fields of a job record a ``JobModel`` reads, for a job known without the registry (a job directory on
    disk, a job the demo's printer follows)."""

    id: str
    plan_summary: dict = field(default_factory=dict)
    name: str = ""
    host: str = "local"
    state: str = "running"
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)


def model_from_events(record: Any, events: Iterable[Event]) -> JobModel:
    """A ``JobModel`` of ``record`` with ``events`` folded in (history read from a registry or a job directory)."""
    model = JobModel(record)
    model.apply(digest_events(list(events)))
    return model


def scores_text(model: JobModel, *, now: float | None = None) -> list[str]:
    """The final scores as terminal lines: one line per metric and group, every language on it."""
    lines = []
    for metric in model.metrics():
        for group in model.groups(metric):
            scores = model.final_scores(metric, group)
            if not scores:
                continue
            label = metric_label(metric, pipeline_check=model.is_pipeline_check(metric))
            cells = ", ".join(f"{lang} {value:.3f}" for lang, value in scores.items())
            lines.append(f"{label} {GROUP_LABELS.get(group, group)}: {cells}")
    return lines
