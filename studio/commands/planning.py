"""`linguatune` sub-commands of the planning area: languages, fit, plan, show."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from studio.commands.text import fit_footer, table
from studio.errors import PlanningError


def register(sub) -> None:
    """Add this area's sub-commands to the `linguatune` parser."""
    languages = sub.add_parser(
        "languages", help="list the language catalogue", description="List catalogue languages matching QUERY "
        "(a substring of code, name, script or family; all when omitted)."
    )
    languages.add_argument("query", nargs="?", default="", metavar="QUERY")
    languages.set_defaults(func=run_languages)

    fit = sub.add_parser(
        "fit", help="fit scaling laws to pilot measurements",
        description="Fit a scaling law per language to POINTS (CSV with language,pairs,score or JSON), or to the "
        "measured scores of finished pilots (--jobs SWEEP_OR_JOB_IDS), and write a laws file for "
        "`linguatune plan --laws`.",
    )
    fit.add_argument("points", metavar="POINTS", nargs="?", help="a measurements file (CSV or JSON)")
    fit.add_argument("--jobs", metavar="IDS", help="fit to these finished pilot sweeps or jobs (comma-separated)")
    fit.add_argument("--metric", default="chrf", choices=("chrf", "comet", "spbleu", "bleu"),
                     help="with --jobs: the metric to fit (comet is put on the 0-100 scale)")
    fit.add_argument("-o", "--output", required=True, metavar="LAWS.json", help="laws file to write")
    fit.add_argument("--form", choices=("power", "log", "auto"), default="power",
                     help="law form (auto: per language the better-fitting of power and log)")
    fit.add_argument(
        "--pooled", action=argparse.BooleanOptionalAction, default=None,
        help="share the exponent across languages (default: only for languages with fewer than 3 points)",
    )
    fit.add_argument("--bootstrap", type=int, default=200, metavar="N", help="bootstrap replicates (0: no bands)")
    fit.add_argument("--seed", type=int, default=0)
    fit.set_defaults(func=run_fit)

    plan = sub.add_parser(
        "plan", help="split a pair budget across languages",
        description="Allocate BUDGET parallel pairs across languages to maximise the predicted quality, beside "
        "the uniform split.",
    )
    plan.add_argument("--languages", required=True, metavar="CODES", help="comma-separated, e.g. ar,el,hi,tr,vi,zh")
    plan.add_argument("--budget", required=True, metavar="PAIRS", help="e.g. 600000, 600k, 1.2M")
    plan.add_argument("--laws", metavar="LAWS.json", help="fitted laws (languages without one use the prior)")
    plan.add_argument("--objective", choices=("sum", "maxmin"), default="sum")
    plan.add_argument("--min", dest="floor", default=None, metavar="N",
                      help="at least N pairs per language (default: each measured language's smallest pilot size, "
                           "so no law is extrapolated below its pilots; 0 for languages on the prior)")
    plan.add_argument("--allocation", choices=("auto", "point", "robust"), default="auto",
                      help="robust: maximise the expected objective over the laws' bootstrap replicates; point: "
                           "trust the point estimates; auto (default): robust whenever the laws have replicates")
    plan.add_argument("--max-extrapolation", type=float, default=None, metavar="K",
                      help="give no measured language more than K times its largest pilot size")
    plan.add_argument("--cap", action="append", default=[], metavar="LANG=N", help="pairs available (repeatable)")
    plan.add_argument("--weight", action="append", default=[], metavar="LANG=W", help="objective weight (repeatable)")
    plan.add_argument("-o", "--output", metavar="PLAN", help="write the plan (.json, .yaml, .csv or .md)")
    plan.set_defaults(func=run_plan)

    show = sub.add_parser("show", help="print a saved plan", description="Print a plan file (.json, .yaml, .csv).")
    show.add_argument("plan", metavar="PLAN")
    show.set_defaults(func=run_show)


def run_languages(args) -> int:
    from studio.planning.languages import load_catalogue

    found = load_catalogue().search(args.query)
    if not found:
        raise PlanningError(f"No language matches {args.query!r}.", field="query")
    rows = [
        [lang.code, lang.name, lang.script, lang.family, f"{lang.pairs:,}",
         "" if lang.similarity is None else f"{lang.similarity:.3f}"]
        for lang in found
    ]
    print(table(["code", "name", "script", "family", "pairs", "similarity"], rows,
                 [False, False, False, False, True, True]))
    return 0


def run_fit(args) -> int:
    from studio.errors import FitError
    from studio.planning.fitting import fit_laws, load_measurements, save_laws

    if args.bootstrap < 0:
        raise FitError(f"--bootstrap must be 0 or more, got {args.bootstrap}.", field="bootstrap")
    output = Path(args.output)
    if output.suffix.lower() != ".json":
        raise FitError(f"The laws file must be .json, got {output.name}.", field="output")
    if bool(args.points) == bool(args.jobs):
        raise FitError("Give either a measurements file POINTS or --jobs SWEEP_OR_JOB_IDS.", field="points")
    if args.jobs:
        from studio.commands.calibrate import report_fit
        from studio.remote.registry import JobRegistry

        with JobRegistry() as registry:
            return report_fit(registry, [i.strip() for i in args.jobs.split(",") if i.strip()], args.metric,
                              args.form, str(output))
    points = load_measurements(args.points)
    if args.form == "auto":
        from studio.session.calibrate import Point, fit_points

        results = fit_points([Point(p.language, p.pairs, p.score, None, "score", args.points) for p in points],
                             bootstrap=args.bootstrap, seed=args.seed)
    else:
        results = fit_laws(points, form=args.form, pooled=args.pooled, bootstrap=args.bootstrap, seed=args.seed)
    save_laws(results, output)
    rows = []
    for code, result in results.items():
        params = ", ".join(f"{k}={v:.4g}" for k, v in result.law.params().items())
        rows.append([code, result.law.form, params, str(result.n_points), result.quality(),
                     f"{result.rmse:.3g}", "yes" if result.pooled else "no", "; ".join(result.flags) or "-"])
    print(table(["language", "form", "parameters", "points", "fit", "RMSE", "pooled", "flags"], rows,
                 [False, False, False, True, False, True, False, False]))
    print(fit_footer(results))
    print(f"Wrote {len(results)} law(s) to {output}")
    return 0


def run_plan(args) -> int:
    from studio.planning.plan import save_plan
    from studio.session.planning import inputs_from_arguments, plan_from_inputs

    inputs = inputs_from_arguments(args.languages, args.budget, objective=args.objective, floor=args.floor,
                                   caps=args.cap, weights=args.weight, laws_path=args.laws,
                                   allocation=args.allocation, max_extrapolation=args.max_extrapolation)
    plan = plan_from_inputs(inputs, strict=True)
    if args.output:
        save_plan(plan, args.output)
    print(render_plan(plan))
    if args.output:
        print(f"Wrote {args.output}")
    return 0


def run_show(args) -> int:
    from studio.planning.plan import load_plan

    print(render_plan(load_plan(args.plan)))
    return 0


def render_plan(plan) -> str:
    """The plan as a terminal table with totals, the marginal value and, when used, the prior banner."""
    from studio.planning.budget import format_pairs
    from studio.planning.plan import marginal_sentence
    from studio.planning.prior import PRIOR_NOTE

    lines = []
    if plan.prior:
        bar = "!" * 78
        on_prior = [lang.code for lang in plan.languages if lang.prior]
        which = "" if len(on_prior) == len(plan.languages) else f" for {', '.join(on_prior)}"
        lines += [bar, f"!! UNCALIBRATED PRIOR{which}: those predictions are illustrative, not measured.", bar,
                  PRIOR_NOTE, ""]
    lines.append(
        f"Budget {format_pairs(plan.budget)} pairs, objective {plan.objective}, laws: {plan.law_source}"
    )
    rows = [
        [lang.code, format_pairs(lang.pairs), format_pairs(lang.uniform_pairs), f"{lang.predicted:.2f}",
         f"{lang.uniform_predicted:.2f}", f"{lang.gain:+.2f}", format_pairs(lang.cap),
         lang.extrapolation_text() + (" [flagged]" if lang.flags else "")]
        for lang in plan.languages
    ]
    rows.append(["total", format_pairs(plan.allocated), format_pairs(sum(l.uniform_pairs for l in plan.languages)),
                 f"{plan.predicted_total:.2f}", f"{plan.uniform_total:.2f}", f"{plan.total_gain:+.2f}", "", ""])
    if plan.objective == "maxmin":
        rows.append(["lowest", "", "", f"{plan.minimum:.2f}", f"{plan.uniform_minimum:.2f}",
                     f"{plan.headline_gain:+.2f}", "", ""])
    lines.append(table(["language", "pairs", "uniform pairs", "predicted", "uniform predicted", "gain", "cap",
                        "measured"], rows, [False, True, True, True, True, True, True, False]))
    lines.append(f"Predicted gain over the uniform split: {plan.headline()}")
    lines.append(f"Allocation: {plan.allocation}" + (
        f" (expected score over {plan.replicates} bootstrap replicates of the laws)" if plan.allocation == "robust"
        else " (the laws' point estimates)"))
    lines.append(marginal_sentence(plan))
    for warning in plan.warnings:
        lines.append(f"Warning: {warning}")
    return "\n".join(lines)
