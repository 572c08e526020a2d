"""`linguatune pilot` and `linguatune compare`: the measured loop in the terminal (``studio.session.calibrate``).

    linguatune pilot --languages demo_lex,demo_sov --sizes 200,800,3200          # sweep, follow, fit
    linguatune pilot --suggest --jobs SWEEP --budget 6000                        # the next pilot worth running
    linguatune fit --jobs SWEEP -o laws.json                                     # laws from finished pilots
    linguatune compare --laws laws.json --languages ... --budget 6000            # optimised vs uniform, trained
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from studio.commands.text import fit_footer, table
from studio.errors import LinguaTuneError


def register(sub) -> None:
    p = sub.add_parser(
        "pilot", help="run a pilot sweep (language x size) and fit the laws from what it measures",
        description="Design a sweep of CoIT pilot jobs (each language alone at each size; nested prefix subsets), "
        "launch it on HOST (a host-side queue runs --concurrency at a time; SLURM queues them itself), follow it "
        "and fit a law per language from the measured metric. With --suggest: rank the next pilots by how much they "
        "would narrow the allocation's uncertainty.",
    )
    p.add_argument("--languages", metavar="CODES", help="comma-separated, e.g. demo_lex,demo_sov,demo_kana")
    p.add_argument("--sizes", metavar="N,N,...", help="pilot sizes in pairs, e.g. 1k,4k,16k")
    p.add_argument("--auto", type=int, metavar="N", help="N sizes spaced on a log axis from --smallest to --largest")
    p.add_argument("--smallest", default="200", help="smallest pilot for --auto (default 200)")
    p.add_argument("--largest", default="3200", help="largest pilot for --auto (default 3200)")
    p.add_argument("--host", help="host profile (default: local)")
    p.add_argument("--preset", default="demo-world",
                   help="training preset of the pilots (default demo-world: the synthetic demo languages)")
    p.add_argument("--data", metavar="FILE", help="JSON file of data sources for presets that name none")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a job field for every pilot, e.g. --set train.epochs=1")
    p.add_argument("--concurrency", type=int, default=1, help="pilots running at once on a direct host (default 1)")
    p.add_argument("--metric", default="chrf", choices=("chrf", "comet", "spbleu", "bleu"),
                   help="what the laws fit (chrf in the demo world; comet x 100 on real runs)")
    p.add_argument("--form", choices=("auto", "power", "log"), default="auto",
                   help="law form; auto keeps per language the one that fits the pilots better (default)")
    p.add_argument("-o", "--output", metavar="LAWS.json", help="write the fitted laws here when the sweep ends")
    p.add_argument("--no-follow", action="store_true", help="launch and return (come back with --follow SWEEP)")
    p.add_argument("--follow", metavar="SWEEP", help="follow a stored sweep to its end (after --no-follow or a "
                   "closed terminal), then fit")
    p.add_argument("--suggest", action="store_true", help="rank the next pilots for the finished jobs of --jobs")
    p.add_argument("--jobs", metavar="IDS", help="sweep or job ids (comma-separated) for --suggest")
    p.add_argument("--budget", help="the plan's budget of pairs, for --suggest")
    p.add_argument("--list", action="store_true", help="list the sweeps in the registry")
    p.add_argument("--trust", metavar="SHA256:...", help="trust the host key with exactly this fingerprint")
    p.set_defaults(func=run_pilot)

    p = sub.add_parser(
        "compare", help="train the optimised plan and the uniform split and compare measured with predicted",
        description="Plan --budget pairs over --languages with --laws (or load --plan), train the optimised "
        "allocation and the uniform split as two MuIT jobs under the same preset and seed, and report measured "
        "against predicted per language and in total, with the noise of each number.",
    )
    p.add_argument("--plan", metavar="PLAN", help="a saved plan (its optimised and uniform allocations)")
    p.add_argument("--laws", metavar="LAWS.json", help="fitted laws to plan with")
    p.add_argument("--languages", metavar="CODES")
    p.add_argument("--budget")
    p.add_argument("--min", dest="floor", default=None, metavar="N",
                   help="at least N pairs per language (default: each language's smallest pilot, as `plan` does)")
    p.add_argument("--host")
    p.add_argument("--preset", default="demo-world")
    p.add_argument("--data", metavar="FILE")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides")
    p.add_argument("--metric", default="chrf", choices=("chrf", "comet", "spbleu", "bleu"))
    p.add_argument("--concurrency", type=int, default=2, help="arms training at once on a direct host (default 2)")
    p.add_argument("-o", "--output", metavar="REPORT.json", help="write the comparison as JSON")
    p.add_argument("--trust", metavar="SHA256:...")
    p.set_defaults(func=run_compare)


def _codes(text: str | None, option: str) -> list[str]:
    from studio.planning.languages import load_catalogue

    codes = [c.strip() for c in (text or "").split(",") if c.strip()]
    if not codes:
        raise LinguaTuneError(f"{option} needs comma-separated language codes.", field=option.lstrip("-"))
    catalogue = load_catalogue()
    return [language.code for language in catalogue.resolve(codes)]


def synthetic_note(codes: Sequence[str]) -> str:
    """The label every table of demo-world numbers carries."""
    from studio.planning.languages import is_synthetic, load_catalogue

    catalogue = load_catalogue()
    if any(is_synthetic(catalogue.get(c)) for c in codes):
        return ("(SYNTHETIC: the demo world's made-up languages; these numbers measure the method on synthetic "
                "data, not any real language.)")
    return ""


class SweepPrinter:
    """Terminal lines as the jobs of a sweep progress: one when a job starts training, one with its score."""

    def __init__(self, labels: dict[str, str], metric: str, stream=None):
        self.labels = labels
        self.metric = metric
        self.stream = stream or sys.stdout
        self.started: set[str] = set()

    def __call__(self, job_id: str, update: Any) -> None:
        from studio.session.monitor import printable

        label = self.labels.get(job_id, job_id)
        if isinstance(update, Exception):
            self._out(f"  {label}: following failed: {printable(update)}")
            return
        for event in update.events:
            if event.kind == "train" and job_id not in self.started:
                self.started.add(job_id)
                self._out(f"  {label}: training ({job_id})")
            value = event.get("value")
            if event.kind == "eval" and event.get("metric") == self.metric and isinstance(value, (int, float)) \
                    and str(event.get("direction", "")).startswith("en-"):
                se = event.get("se")
                noise = f" ± {se:.1f}" if isinstance(se, (int, float)) else ""
                self._out(f"  {label}: {self.metric} {printable(event.get('direction'))} = {value:.1f}{noise}")
        if update.kind == "ended":
            self._out(f"  {label}: {update.state}" + (f" ({printable(update.message)})" if update.message else ""))

    def _out(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def run_pilot(args) -> int:
    from studio.remote.registry import JobRegistry

    with JobRegistry() as registry:
        if args.list:
            return _list_sweeps(registry)
        if args.suggest:
            return _suggest(args, registry)
        if args.follow:
            from studio.session.calibrate import load_sweep

            sweep = load_sweep(registry, args.follow)
            follow_sweep(sweep, registry, args.host, args.trust)
            return report_fit(registry, [sweep.id], sweep.metric, args.form, args.output)
        sweep = launch_sweep(args, registry)
        if args.no_follow:
            print(f"Come back with `linguatune pilot --follow {sweep.id} -o laws.json`: it follows the pilots to "
                  f"their end (they run on without this terminal) and fits the laws.")
            return 0
        follow_sweep(sweep, registry, args.host, args.trust)
        return report_fit(registry, [sweep.id], args.metric, args.form, args.output)


def launch_sweep(args, registry):
    from studio.commands.remote import connect
    from studio.planning.budget import parse_budget
    from studio.planning.languages import load_catalogue
    from studio.session import calibrate
    from studio.session.launch import parse_overrides, read_data_file, resolve_profile

    languages = _codes(args.languages, "--languages")
    if args.auto is not None:
        sizes = calibrate.auto_sizes(args.auto, parse_budget(args.smallest, what="--smallest"),
                                     parse_budget(args.largest, what="--largest"))
    elif args.sizes:
        sizes = calibrate.parse_sizes(args.sizes)
    else:
        raise LinguaTuneError("Give --sizes (e.g. 1k,4k,16k) or --auto N.", field="sizes")
    catalogue = load_catalogue()
    pilots = calibrate.design_sweep(languages, sizes, {c: catalogue.get(c).pairs for c in languages})
    profile = resolve_profile(args.host)
    with connect(profile, args.trust) as session:
        sweep = calibrate.start_sweep(pilots, profile, session, registry, preset=args.preset, metric=args.metric,
                                      concurrency=args.concurrency, overrides=parse_overrides(args.overrides),
                                      data=read_data_file(args.data))
    print(f"Sweep {sweep.id}: {len(pilots)} pilots ({', '.join(languages)} x "
          f"{', '.join(str(s) for s in sizes)} pairs) on {profile.name}, {args.concurrency} at a time.")
    note = synthetic_note(languages)
    if note:
        print(note)
    return sweep


def follow_sweep(sweep, registry, host: str | None, trust: str | None) -> dict[str, str]:
    from studio.commands.remote import connect
    from studio.session import calibrate
    from studio.session.launch import resolve_profile

    profile = resolve_profile(host or sweep.host)
    labels = {p.job_id: f"{p.language} {p.pairs:>6}" for p in sweep.pilots}
    started = time.monotonic()
    final = calibrate.follow_jobs(sweep.job_ids, registry, lambda: connect(profile, trust),
                                  SweepPrinter(labels, sweep.metric))
    done = sum(1 for s in final.values() if s == "finished")
    print(f"Sweep {sweep.id}: {done} of {len(final)} pilots finished in {time.monotonic() - started:.0f} s.")
    return final


def report_fit(registry, ids: Sequence[str], metric: str, form: str, output: str | None) -> int:
    """Fit laws to the measured pilots of sweeps or jobs ``ids``, print the points and the laws, write ``output``."""
    from studio.session import calibrate

    points, skipped = calibrate.sweep_measurements(registry, ids, metric)
    for sentence in skipped:
        print(f"  skipped: {sentence}")
    results = calibrate.fit_points(points, form=form)
    rows = [[p.language, str(p.pairs), f"{p.value:.2f}", "-" if p.se is None else f"{p.se:.2f}", p.job_id]
            for p in sorted(points, key=lambda p: (p.language, p.pairs))]
    print(table(["language", "pairs", metric, "s.e.", "job"], rows))
    law_rows = []
    for code, result in results.items():
        params = ", ".join(f"{k}={v:.4g}" for k, v in result.law.params().items())
        law_rows.append([code, result.law.form, params, str(result.n_points), result.quality(),
                         f"{result.rmse:.3g}", "yes" if result.pooled else "no", "; ".join(result.flags) or "-"])
    print(table(["language", "form", "parameters", "points", "fit", "RMSE", "pooled", "flags"], law_rows))
    print(fit_footer(results))
    note = synthetic_note(list(results))
    if note:
        print(note)
    if output:
        write_laws(results, output, ids, metric)
        print(f"Wrote {len(results)} law(s) fitted to {len(points)} measured pilots to {output}.")
    return 0


def write_laws(results, output: str | Path, ids: Sequence[str], metric: str) -> Path:
    """The laws file, with where its points came from (the sweep / job ids and the metric)."""
    from studio.planning.fitting import laws_document
    from studio.planning.plan import write_text_atomic

    output = Path(output)
    if output.suffix.lower() != ".json":
        raise LinguaTuneError(f"The laws file must be .json, got {output.name}.", field="output")
    document = laws_document(results)
    document["source"] = {"measured_by": list(ids), "metric": metric}
    write_text_atomic(output, json.dumps(document, indent=1) + "\n")
    return output


def _list_sweeps(registry) -> int:
    rows = []
    for sweep_id, kind, doc in registry.sweeps():
        states = [registry.get(p["job_id"]).state for p in doc.get("pilots", []) if p.get("job_id")]
        summary = ", ".join(f"{states.count(s)} {s}" for s in sorted(set(states))) or "no jobs"
        rows.append([sweep_id, kind, doc.get("host", ""), str(len(doc.get("pilots", []))), summary])
    if not rows:
        print("No sweeps yet (start one with `linguatune pilot --languages ... --sizes ...`).")
        return 0
    print(table(["sweep", "kind", "host", "jobs", "states"], rows))
    return 0


def _suggest(args, registry) -> int:
    from studio.planning.budget import parse_budget
    from studio.planning.languages import load_catalogue
    from studio.session import calibrate

    if not args.jobs:
        raise LinguaTuneError("--suggest needs --jobs SWEEP_OR_JOB_IDS.", field="jobs")
    if not args.budget:
        raise LinguaTuneError("--suggest needs --budget (the plan's pairs).", field="budget")
    budget = parse_budget(args.budget)
    points, skipped = calibrate.sweep_measurements(registry, args.jobs.split(","), args.metric)
    for sentence in skipped:
        print(f"  skipped: {sentence}")
    catalogue = load_catalogue()
    caps = {p.language: catalogue.get(p.language).pairs for p in points}
    spread, suggestions = calibrate.suggest_pilots(points, budget, caps=caps, form=args.form)
    print(f"Optimal allocation of {budget} pairs now ({spread.replicates} bootstrap replicates of the laws):")
    print(table(["language", "pairs (median)", "± (95%)"],
                [[c, f"{spread.middle[c]:.0f}", f"{spread.half_width[c]:.0f}"] for c in spread.middle]))
    if not suggestions:
        print("No candidate pilot is left within the languages' pairs.")
        return 0
    print(suggestions[0].sentence())
    print(table(["language", "pairs", "share ± now", "share ± after", "all ± after"],
                [[s.language, str(s.pairs), f"{s.before:.0f}", f"{s.after:.0f}", f"{s.total_after:.0f}"]
                 for s in suggestions[:8]]))
    return 0


# ---------------------------------------------------------------------------------------------------- compare
def comparison_inputs(args):
    """The plan whose optimised and uniform allocations are compared (from --plan, or --laws + languages)."""
    from studio.planning.budget import parse_budget
    from studio.planning.fitting import load_laws_with_evidence
    from studio.planning.plan import load_plan, make_plan

    if args.plan:
        return load_plan(args.plan)
    if not args.laws:
        raise LinguaTuneError("compare needs --plan PLAN, or --laws LAWS.json with --languages and --budget.",
                              field="plan")
    languages = _codes(args.languages, "--languages")
    if not args.budget:
        raise LinguaTuneError("compare needs --budget with --laws.", field="budget")
    laws, evidence = load_laws_with_evidence(args.laws)
    missing = [c for c in languages if c not in laws]
    if missing:
        raise LinguaTuneError(f"The laws file {args.laws} has no law for {', '.join(missing)}; pilot it first.",
                              field="laws")
    floor = None if args.floor in (None, "auto") else parse_budget(args.floor, what="--min", allow_zero=True)
    return make_plan(languages, args.budget, laws=laws, evidence=evidence, floors=floor,
                     law_source=f"fitted laws {args.laws}")


def run_compare(args) -> int:
    from studio.remote.registry import JobRegistry

    plan = comparison_inputs(args)
    with JobRegistry() as registry:
        comparison = train_comparison(plan, registry, host=args.host, preset=args.preset, metric=args.metric,
                                      overrides=args.overrides, data=args.data, concurrency=args.concurrency,
                                      trust=args.trust)
    if args.output:
        from studio.planning.plan import write_text_atomic

        write_text_atomic(Path(args.output), json.dumps(comparison.to_dict(), indent=1) + "\n")
        print(f"Wrote the comparison to {args.output}.")
    return 0 if all(arm.measured for arm in comparison.arms) else 1


def train_comparison(plan, registry, *, host=None, preset="demo-world", metric="chrf", overrides=(), data=None,
                     concurrency=2, trust=None):
    """Launch both arms, follow them, measure them, print the table; returns the ``Comparison``."""
    from studio.commands.remote import connect
    from studio.session import calibrate
    from studio.session.launch import parse_overrides, read_data_file, resolve_profile

    profile = resolve_profile(host)
    with connect(profile, trust) as session:
        compare_id, arms = calibrate.start_comparison(plan, profile, session, registry, preset=preset, metric=metric,
                                                      concurrency=concurrency,
                                                      overrides=parse_overrides(list(overrides)),
                                                      data=read_data_file(data))
    print(f"Comparison {compare_id}: optimised ({arms[0].job_id}) and uniform ({arms[1].job_id}), same preset "
          f"{preset} and seed, on {profile.name}.")
    labels = {a.job_id: f"{a.name:>9}" for a in arms}
    calibrate.follow_jobs([a.job_id for a in arms], registry, lambda: connect(profile, trust),
                          SweepPrinter(labels, metric))
    comparison = calibrate.Comparison(metric, arms)
    for arm in arms:
        try:
            calibrate.measure_arm(arm, registry, metric)
        except LinguaTuneError as exc:
            print(f"  {arm.name}: {exc}")
    print(table(["language", "opt pairs", "opt predicted", "opt measured", "uni pairs", "uni predicted",
                 "uni measured"], comparison.table()))
    print(calibrate.verdict(comparison))
    note = synthetic_note(list(arms[0].pairs))
    if note:
        print(note)
    return comparison
