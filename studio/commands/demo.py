"""`linguatune demo`: the whole loop on this machine, no GPU and no SSH needed.

Plans the paper's six languages with the uncalibrated prior, turns the plan into the demo job (a tiny Llama
model on the shipped sample data, its allocation scaled to that sample), launches it with the local launcher
(torchrun, FSDP2 over gloo on CPU ranks), and follows it live in the terminal: loss, COMET / chrF / spBLEU per
language, alignment. The job stays in the registry: `linguatune jobs`, `linguatune follow JOB`, or the studio.
"""

from __future__ import annotations

import sys
import time

from studio.commands.planning import render_plan


def register(sub) -> None:
    p = sub.add_parser("demo", help="plan, launch and follow the local demo job (tiny model, CPU, a few minutes)")
    p.add_argument("--languages", default="ar,el,hi,tr,vi,zh", help="demo languages (subset of the paper six)")
    p.add_argument("--budget", default="600k", help="the plan's budget of parallel pairs (default 600k)")
    p.add_argument("--nproc", type=int, default=2, help="training processes (CPU ranks or GPUs; default 2)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a job field, e.g. --set train.max_steps=20")
    p.add_argument("--no-follow", action="store_true", help="launch and return; follow later")
    p.set_defaults(func=run_demo)


def run_demo(args) -> int:
    from studio.planning.plan import make_plan, save_plan
    from studio.remote.connection import open_session
    from studio.remote.follow import Follower
    from studio.remote.launch import launch
    from studio.session.launch import LaunchDraft, parse_overrides, resolve_profile
    from studio.remote.registry import JobRegistry
    from studio.paths import data_dir

    languages = [code.strip() for code in args.languages.split(",") if code.strip()]
    plan = make_plan(languages, args.budget)
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
