"""`linguatune demo`: the measured loop on this machine, no GPU and no SSH needed.

The default runs the loop in the demo world (``worker/demoworld.py``: three SYNTHETIC languages a tiny model can
learn on two CPU cores): a pilot sweep (language x size, CoIT jobs through the local launcher's host-side queue)
-> laws fitted to the measured chrF (R², RMSE) -> the optimal plan for the budget against the uniform split ->
both trained as MuIT jobs under the same seed -> measured against predicted, with the noise of each number.
``--report FILE`` writes all of it as JSON.

``--pipeline`` runs the pipeline demo instead: the paper's six languages planned with the uncalibrated prior, a
tiny Llama model on the shipped sample data under torchrun (FSDP2 over gloo on CPU ranks), followed live: loss,
COMET (a pipeline-check model) / chrF / BLEU per direction, alignment. It checks the pipeline, not the method.
Every job stays in the registry: `linguatune jobs`, `linguatune follow JOB`, or the studio.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from studio.commands.planning import render_plan
from studio.commands.text import fit_footer
from studio.errors import LinguaTuneError
from studio.session.calibrate import DEMO_SIZES


LOOP_LANGUAGES = "demo_lex,demo_sov,demo_kana"
PIPELINE_LANGUAGES = "ar,el,hi,tr,vi,zh"


def register(sub) -> None:
    p = sub.add_parser("demo", help="the measured loop in the synthetic demo world: pilots -> laws -> plan -> "
                       "optimised vs uniform, trained and measured (CPU, a few minutes)")
    p.add_argument("--pipeline", action="store_true",
                   help="run the pipeline demo instead (paper languages, FSDP2 on CPU ranks, pipeline-check COMET)")
    p.add_argument("--languages", help=f"loop: {LOOP_LANGUAGES}; --pipeline: a subset of {PIPELINE_LANGUAGES}")
    p.add_argument("--sizes", default=",".join(str(s) for s in DEMO_SIZES), help="loop: pilot sizes in pairs")
    p.add_argument("--budget", help="the plan's budget of pairs (loop default 4800; --pipeline default 600k)")
    p.add_argument("--concurrency", type=int, default=2, help="loop: jobs running at once (default 2)")
    p.add_argument("--report", metavar="FILE", help="loop: write pilots, laws, plan and measured results as JSON")
    p.add_argument("--nproc", type=int, default=2, help="--pipeline: training processes (default 2)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a job field, e.g. --set train.max_steps=20")
    p.add_argument("--no-follow", action="store_true", help="--pipeline: launch and return; follow later")
    p.set_defaults(func=run_demo)


def run_demo(args) -> int:
    if args.pipeline:
        return run_pipeline_demo(args)
    return run_loop_demo(args)


def run_loop_demo(args) -> int:
    """Pilots -> laws -> plan -> optimised vs uniform trained and measured, printed as it goes."""
    from studio.commands.calibrate import SweepPrinter, synthetic_note, train_comparison, write_laws
    from studio.commands.text import table
    from studio.paths import data_dir
    from studio.planning.plan import make_plan, save_plan, write_text_atomic
    from studio.remote.connection import open_session
    from studio.remote.registry import JobRegistry
    from studio.session import calibrate
    from studio.session.launch import parse_overrides, resolve_profile

    timings: dict[str, float] = {}
    started = time.monotonic()
    languages = [c.strip() for c in (args.languages or LOOP_LANGUAGES).split(",") if c.strip()]
    sizes = calibrate.parse_sizes(args.sizes)
    budget = args.budget or "4800"
    overrides = parse_overrides(args.overrides)
    profile = resolve_profile(None)
    out_dir = data_dir() / "plans"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    print("LinguaTune demo: the measured loop in the demo world.")
    print(synthetic_note(languages))
    with JobRegistry() as registry:
        # 1. pilots
        print(f"\n1. Pilot sweep: {', '.join(languages)} x {', '.join(map(str, sizes))} pairs "
              f"(CoIT, nested subsets), {args.concurrency} at a time on this machine.")
        with open_session(profile) as session:
            sweep = calibrate.start_sweep(calibrate.design_sweep(languages, sizes), profile, session, registry,
                                          preset=calibrate.PILOT_PRESET, concurrency=args.concurrency,
                                          overrides=overrides)
        labels = {p.job_id: f"{p.language} {p.pairs:>5}" for p in sweep.pilots}
        final = calibrate.follow_jobs(sweep.job_ids, registry, lambda: open_session(profile),
                                      SweepPrinter(labels, "chrf"))
        timings["pilots"] = time.monotonic() - started
        if any(state != "finished" for state in final.values()):
            bad = ", ".join(f"{j} {s}" for j, s in final.items() if s != "finished")
            print(f"Some pilots did not finish ({bad}); see `linguatune follow JOB`.", file=sys.stderr)
            return 1
        # 2. laws
        mark = time.monotonic()
        points, _skipped = calibrate.sweep_measurements(registry, [sweep.id], "chrf")
        print(f"\n2. Laws fitted to the {len(points)} measured pilots (chrF, English -> target):")
        print(table(["language", "pairs", "chrF", "s.e."],
                    [[p.language, str(p.pairs), f"{p.value:.1f}", f"{p.se:.1f}" if p.se is not None else "-"]
                     for p in sorted(points, key=lambda p: (p.language, p.pairs))]))
        results = calibrate.fit_points(points)
        print(table(["language", "law", "fit", "RMSE", "flags"],
                    [[c, ", ".join(f"{k}={v:.3g}" for k, v in r.law.params().items()), r.quality(),
                      f"{r.rmse:.2f}", "; ".join(r.flags) or "-"] for c, r in results.items()]))
        print(fit_footer(results))
        laws_path = write_laws(results, out_dir / f"demo-laws-{stamp}.json", [sweep.id], "chrf")
        # 3. plan
        # Every language keeps at least the smallest pilot's pairs: below it the laws would be extrapolations.
        # Planned from the laws file just written, exactly as `linguatune plan --laws` would.
        from studio.planning.fitting import load_laws_with_evidence

        file_laws, evidence = load_laws_with_evidence(laws_path)
        plan = make_plan(languages, budget, laws=file_laws, evidence=evidence, floors=min(sizes),
                         law_source=f"fitted to pilot sweep {sweep.id} (chrF)")
        plan_path = save_plan(plan, out_dir / f"demo-plan-{stamp}.json")
        print(f"\n3. The optimal plan of {plan.budget} pairs under those laws, at least {min(sizes)} per language "
              f"(the smallest pilot; saved to {plan_path}):")
        print(render_plan(plan))
        try:
            spread, suggestions = calibrate.suggest_pilots(points, plan.budget, sizes=sizes, replicates=20)
            if suggestions:
                print("   " + suggestions[0].sentence())
        except LinguaTuneError as exc:
            print(f"   (no suggestion: {exc})")
        timings["fit_and_plan"] = time.monotonic() - mark
        # 4. both trained
        mark = time.monotonic()
        print("\n4. Both allocations trained (MuIT, same preset and seed) and measured:")
        comparison = train_comparison(plan, registry, preset=calibrate.PILOT_PRESET, metric="chrf",
                                      overrides=args.overrides, concurrency=args.concurrency)
        timings["compare"] = time.monotonic() - mark
    timings["total"] = time.monotonic() - started
    print("\nTime by phase: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    if args.report:
        report = {
            "synthetic": True,
            "note": synthetic_note(languages),
            "sweep": sweep.id,
            "pilots": [p.to_dict() for p in points],
            "laws": str(laws_path),
            "law_fits": {c: {"r2": r.r2, "quality": r.quality(), "rmse": r.rmse, "flags": r.flags,
                             **r.law.to_dict()} for c, r in results.items()},
            "predicted_gain": {"headline": plan.headline(), "gain": plan.headline_gain,
                               "interval": plan.gain_interval, "allocation": plan.allocation},
            "plan": str(plan_path),
            "final": {arm.name: {"job_id": arm.job_id, "pairs": arm.pairs,
                                 "predicted": arm.predicted, "measured": arm.measured, "se": arm.se}
                      for arm in comparison.arms},
            "comparison": comparison.to_dict(),
            "timings_s": {k: round(v, 1) for k, v in timings.items()},
        }
        write_text_atomic(Path(args.report), json.dumps(report, indent=1) + "\n")
        print(f"Wrote the report to {args.report}.")
    return 0 if all(arm.measured for arm in comparison.arms) else 1


def run_pipeline_demo(args) -> int:
    from studio.planning.plan import make_plan, save_plan
    from studio.remote.connection import open_session
    from studio.remote.follow import Follower
    from studio.remote.launch import launch
    from studio.session.launch import LaunchDraft, parse_overrides, resolve_profile
    from studio.remote.registry import JobRegistry
    from studio.paths import data_dir

    languages = [code.strip() for code in (args.languages or PIPELINE_LANGUAGES).split(",") if code.strip()]
    plan = make_plan(languages, args.budget or "600k")
    print(render_plan(plan))
    plans = data_dir() / "plans"
    plans.mkdir(parents=True, exist_ok=True)
    plan_path = save_plan(plan, plans / f"demo-{time.strftime('%Y%m%d-%H%M%S')}.json")
    profile = resolve_profile(None)
    request = LaunchDraft(profile, plan.to_dict(), preset="demo", name="demo",
                          overrides=parse_overrides(args.overrides), nproc_per_node=args.nproc).request()
    spec = request.job_spec
    alloc = ", ".join(f"{code} {pairs}" for code, pairs in spec["allocation"].items())
    print(f"\nDemo job: the plan's proportions over the shipped sample ({alloc} pairs); plan saved to {plan_path}.")
    with open_session(profile) as session, JobRegistry() as registry:
        job = launch(request, session, registry=registry)
    print(f"Launched {job.job_id} with {args.nproc} processes in {job.job_dir}.")
    if args.no_follow:
        print(f"Follow it with `linguatune follow {job.job_id}` or open `linguatune studio`.")
        return 0

    end = None
    printer = ProgressPrinter()
    with JobRegistry() as registry:
        record = registry.find(job.job_id)
        for update in Follower(record, lambda: open_session(profile), registry=registry):
            for event in update.events:
                printer.show(event)
            if update.kind == "ended":
                end = update
    if end is None:
        return 1
    print(f"\n{job.job_id} {end.state}" + (f": {end.message}" if end.message else "."))
    if end.state != "finished":
        for line in end.log_tail[-30:]:
            print(f"  {line}", file=sys.stderr)
        return 1
    print(printer.summary())
    print(f"Results in {job.job_dir}; history: `linguatune follow {job.job_id}`; GUI: `linguatune studio`.")
    return 0


class ProgressPrinter:
    """The demo's terminal log: a loss line every ``every_s`` seconds, every other event as ``linguatune follow``
    prints it (``studio.session.monitor.event_line``), and a summary of the final scores per direction group."""

    def __init__(self, every_s: float = 2.0, stream=None):
        from studio.session.monitor import DetachedRecord, JobModel

        self.every_s = every_s
        self.stream = stream or sys.stdout
        self._last_train = float("-inf")
        self.first_loss: float | None = None
        self.last_loss: float | None = None
        self.model = JobModel(DetachedRecord("demo"))

    def _out(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def show(self, event) -> None:
        from studio.session.monitor import digest_events, event_line

        self.model.apply(digest_events([event]))
        if event.kind == "train":
            loss = event.get("loss")
            if loss is not None:
                self.first_loss = loss if self.first_loss is None else self.first_loss
                self.last_loss = loss
            now = time.monotonic()
            if now - self._last_train < self.every_s:
                return
            self._last_train = now
        self._out(f"  {event_line(event)}")

    def summary(self) -> str:
        from studio.session.monitor import scores_text

        lines = []
        if self.first_loss is not None:
            lines.append(f"Training loss {self.first_loss:.3f} -> {self.last_loss:.3f}.")
        lines += scores_text(self.model)
        return "\n".join(lines)
