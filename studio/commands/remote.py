"""`linguatune` sub-commands of the remote area: hosts, launch, jobs, follow, cancel, fetch."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from studio.errors import LinguaTuneError


def register(sub) -> None:
    """Add this area's sub-commands to the `linguatune` parser."""
    hosts = sub.add_parser("hosts", help="manage the hosts jobs run on (SSH, SLURM, this machine)")
    hsub = hosts.add_subparsers(dest="hosts_command", metavar="ACTION")
    hosts.set_defaults(func=lambda args: (hosts.print_help(), 2)[1])

    p = hsub.add_parser("list", help="list host profiles")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_hosts_list)

    p = hsub.add_parser("add", help="add (or with --replace, change) a host profile")
    p.add_argument("name")
    p.add_argument("--host", default="", help="host name or ~/.ssh/config alias ([user@]host[:port])")
    p.add_argument("--user")
    p.add_argument("--port", type=int)
    p.add_argument("--identity-file")
    p.add_argument("--proxy-jump")
    p.add_argument("--proxy-command")
    p.add_argument("--work-root", default="~/linguatune-jobs")
    p.add_argument("--python", default="python3", help="remote Python (path or command)")
    p.add_argument("--venv", help="a venv the studio creates on deploy and runs jobs with")
    p.add_argument("--launcher", choices=("direct", "slurm", "local"), default="direct")
    p.add_argument("--gpus", type=int, default=1, dest="gpus_per_node", help="GPUs per node")
    p.add_argument("--nodes", type=int, default=1)
    p.add_argument("--partition", dest="slurm_partition")
    p.add_argument("--account", dest="slurm_account")
    p.add_argument("--time", dest="slurm_time")
    p.add_argument("--sbatch", action="append", default=[], dest="slurm_extra", metavar="DIRECTIVE",
                   help="extra sbatch directive, e.g. --sbatch=--qos=high (repeatable)")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                   help="environment variable for commands and jobs on the host (repeatable); one named like a "
                        "secret (*TOKEN*, *KEY*, *SECRET*, *PASSWORD*) goes to the system keyring, and only jobs "
                        "get it, from a 0600 file (prefer `hosts secret NAME --env VAR`: no value in your shell "
                        "history)")
    p.add_argument("--use-keyring", action="store_true",
                   help="read key passphrases / passwords from the system keyring")
    p.add_argument("--replace", action="store_true")
    p.set_defaults(func=cmd_hosts_add)

    p = hsub.add_parser("remove", help="remove a host profile")
    p.add_argument("name")
    p.set_defaults(func=cmd_hosts_remove)

    p = hsub.add_parser("secret", help="store a secret of a host in the system keyring: the key passphrase, the "
                                       "login password, or an environment variable for its jobs (HF_TOKEN, ...)")
    p.add_argument("name")
    p.add_argument("--password", action="store_true", help="store the login password instead of the passphrase")
    p.add_argument("--env", metavar="VAR", dest="env_name",
                   help="store the value of environment variable VAR for the host's jobs (e.g. HF_TOKEN)")
    p.add_argument("--delete", action="store_true", help="with --env: forget the variable")
    p.add_argument("--stdin", action="store_true", help="read the secret from standard input, not a prompt")
    p.set_defaults(func=cmd_hosts_secret)

    p = hsub.add_parser("doctor", help="check Python, worker version, torch/CUDA, GPUs, disk, SLURM on a host")
    p.add_argument("name")
    _trust_arg(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_hosts_doctor)

    p = hsub.add_parser("deploy", help="install this exact worker version on a host")
    p.add_argument("name")
    p.add_argument("--with-deps", action="store_true",
                   help="also install the worker's dependencies (the worker extra only: no Qt on a GPU box)")
    p.add_argument("--torch", default="keep", metavar="keep|VERSION",
                   help="keep (default) a torch the host already has, or install this version")
    p.add_argument("--torch-index", metavar="URL",
                   help="wheel index for torch, e.g. https://download.pytorch.org/whl/cu124 (or .../whl/cpu)")
    _trust_arg(p)
    p.set_defaults(func=cmd_hosts_deploy)

    p = sub.add_parser("launch", help="launch a training job for a plan")
    p.add_argument("plan", help="plan file (linguatune.plan/1: .json, .yaml or .csv)")
    p.add_argument("--host", help="host profile name (default: this machine)")
    p.add_argument("--preset", default="demo", help="training preset: demo (tiny model, sample data) or llama-7b-8xa100")
    p.add_argument("--data", metavar="FILE", help="JSON file of data sources (english_instructions, "
                   "translated_instructions, pairs) for presets that need them")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a job field, e.g. --set train.epochs=1 (VALUE is JSON, else a string)")
    p.add_argument("--name", default="", help="a name for the job (kept as metadata)")
    p.add_argument("--nproc", type=int,
                   help="processes per node (default: one per GPU; the demo on a machine without GPUs: 2 CPU ranks)")
    p.add_argument("--dry-run", action="store_true", help="print the command / sbatch script; launch nothing")
    _trust_arg(p)
    p.set_defaults(func=cmd_launch)

    p = sub.add_parser("jobs", help="list launched jobs (from the local registry)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_jobs)

    p = sub.add_parser("follow", help="follow a job's events until it ends")
    p.add_argument("job")
    p.add_argument("--json", action="store_true", help="print events as JSON lines")
    _trust_arg(p)
    p.set_defaults(func=cmd_follow)

    p = sub.add_parser("cancel", help="cancel a job (TERM, then KILL after a grace period; scancel)")
    p.add_argument("job")
    p.add_argument("--grace", type=float, default=10.0, help="seconds between SIGTERM and SIGKILL")
    _trust_arg(p)
    p.set_defaults(func=cmd_cancel)

    p = sub.add_parser("fetch", help="copy a job's results (scores, predictions, logs) here")
    p.add_argument("job")
    p.add_argument("--dest", help="destination folder (default: the user data dir)")
    p.add_argument("--model", action="store_true", help="also copy the tuned model (large)")
    _trust_arg(p)
    p.set_defaults(func=cmd_fetch)


def _trust_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trust", metavar="SHA256:...", help="trust the host key with exactly this fingerprint")


# ---------------------------------------------------------------------------------------------------------------
def connect(profile, trust: str | None = None):
    """Open a session; an unknown host key is trusted only on an exact --trust match or a yes at a TTY prompt."""
    from studio.remote.connection import open_session
    from studio.remote.errors import UnknownHostKeyError
    from studio.session.launch import trust_offered_key

    try:
        return open_session(profile)
    except UnknownHostKeyError as exc:
        confirmed = False
        if trust is not None:
            if trust.strip() != exc.fingerprint:
                raise LinguaTuneError(
                    f"The host key of {exc.host} is {exc.fingerprint}, not {trust.strip()}; not trusted.",
                    field="trust",
                ) from None
            confirmed = True
        elif sys.stdin.isatty() and sys.stderr.isatty():
            print(f"The host key of {exc.host} is not known: {exc.key_type} {exc.fingerprint}", file=sys.stderr)
            answer = input("Trust it and connect? Type 'yes' to trust: ").strip().lower()
            confirmed = answer == "yes"
        if not confirmed:
            raise
        # The key is recorded for the host the key was offered by (the target, or a jump host).
        trust_offered_key(exc)
        print(f"Trusted {exc.host} {exc.fingerprint}.", file=sys.stderr)
        return connect(profile, trust if trust is None else None)


def _profile(name: str | None):
    from studio.session.launch import resolve_profile

    return resolve_profile(name)


def cmd_hosts_list(args) -> int:
    from studio.remote.hosts import HostStore

    profiles = HostStore().load()
    if args.json:
        print(json.dumps([p.to_dict() for p in profiles.values()], indent=1))
        return 0
    if not profiles:
        print("No host profiles yet (add one with `linguatune hosts add NAME --host HOST`).")
        return 0
    for p in profiles.values():
        where = "this machine" if p.launcher == "local" else (
            f"{p.user + '@' if p.user else ''}{p.host}{':' + str(p.port) if p.port else ''}")
        jump = f" via {p.proxy_jump}" if p.proxy_jump else ""
        print(f"{p.name:<16} {p.launcher:<7} {where}{jump}  root={p.work_root}  gpus={p.gpus_per_node}x{p.nodes}")
    return 0


def cmd_hosts_add(args) -> int:
    from studio.remote.hosts import HostProfile, HostStore

    env = {}
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep:
            raise LinguaTuneError(f"--env expects NAME=VALUE, got {item!r}.", field="env")
        env[name] = value
    profile = HostProfile(
        name=args.name, host=args.host, user=args.user, port=args.port, identity_file=args.identity_file,
        proxy_jump=args.proxy_jump, proxy_command=args.proxy_command, work_root=args.work_root,
        python=args.python, venv=args.venv, launcher=args.launcher, gpus_per_node=args.gpus_per_node,
        nodes=args.nodes, slurm_partition=args.slurm_partition, slurm_account=args.slurm_account,
        slurm_time=args.slurm_time, slurm_extra=list(args.slurm_extra), env=env, use_keyring=args.use_keyring,
    )
    HostStore().add(profile, replace=args.replace)
    moved = sorted(set(env) - set(profile.env))
    print(f"Saved host {profile.name}." + (f" {', '.join(moved)} went to the system keyring, not hosts.json."
                                          if moved else ""))
    if profile.launcher != "local":
        print(f"Next: `linguatune hosts doctor {profile.name}` checks it; `linguatune hosts deploy {profile.name} "
              f"--with-deps` installs the worker there if doctor says it is missing.")
    return 0


def cmd_hosts_remove(args) -> int:
    from studio.remote.hosts import HostStore

    HostStore().remove(args.name)
    print(f"Removed host {args.name}.")
    return 0


def cmd_hosts_secret(args) -> int:
    import getpass

    from studio.remote.connection import store_secret
    from studio.remote.hosts import HostStore
    from studio.remote.sshconfig import load_ssh_config, resolve_profile

    profile = _profile(args.name)
    if args.env_name:
        store = HostStore()
        if args.delete:
            store.remove_secret(profile.name, args.env_name)
            print(f"Forgot {args.env_name} of host {profile.name}.")
            return 0
        value = sys.stdin.readline().rstrip("\n") if args.stdin else getpass.getpass(f"{args.env_name}: ")
        store.set_secret(profile.name, args.env_name, value)
        print(f"Stored {args.env_name} for the jobs of host {profile.name} in the system keyring (jobs read it "
              f"from a 0600 file in their folder, deleted when they start).")
        return 0
    if args.delete:
        raise LinguaTuneError("--delete needs --env VAR (the variable to forget).", field="delete")
    if not profile.use_keyring:
        raise LinguaTuneError(
            f"Host {profile.name} does not use the keyring; add it again with --use-keyring --replace first.",
            field="use_keyring",
        )
    target = resolve_profile(profile, load_ssh_config())
    if args.password:
        kind, ident, what = "password", f"{target.user}@{target.hostname}:{target.port}", "password"
    else:
        if not target.identity_files:
            raise LinguaTuneError(f"Host {profile.name} has no identity file to store a passphrase for.",
                                  field="identity_file")
        kind, ident, what = "passphrase", target.identity_files[0], f"passphrase of {target.identity_files[0]}"
    secret = sys.stdin.readline().rstrip("\n") if args.stdin else getpass.getpass(f"{what}: ")
    if not secret:
        raise LinguaTuneError("An empty secret was not stored.", field=kind)
    store_secret(kind, ident, secret)
    print(f"Stored the {what} in the system keyring.")
    return 0


def cmd_hosts_doctor(args) -> int:
    from studio.remote.doctor import doctor

    profile = _profile(args.name)
    with connect(profile, args.trust) as session:
        report = doctor(profile, session)
    if args.json:
        print(json.dumps({"host": report.host, "ok": report.ok, "facts": report.facts,
                          "checks": [c.__dict__ for c in report.checks]}, indent=1))
    else:
        print(f"{report.host}:")
        for line in report.lines():
            print("  " + line)
    return 0 if report.ok else 1


def cmd_hosts_deploy(args) -> int:
    from studio.remote.doctor import deploy

    profile = _profile(args.name)
    if args.torch != "keep" and not re.fullmatch(r"\d+(\.\d+){1,2}([+.][A-Za-z0-9.]+)?", args.torch):
        raise LinguaTuneError(f"--torch expects keep or a version such as 2.13.0, got {args.torch!r}.",
                              field="torch")
    with connect(profile, args.trust) as session:
        result = deploy(profile, session, with_deps=args.with_deps, torch=args.torch, torch_index=args.torch_index,
                        progress=lambda line: print(f"  {line}", flush=True))
    made = " (venv created)" if result.created_venv else ""
    print(f"Installed {result.wheel} into {result.python}{made}; the host imports worker {result.version}.")
    others = [name for name in result.installed if not name.startswith("linguatune-")]
    if others:
        print(f"Also installed: {', '.join(others)}.")
    if result.torch_note:
        print(f"torch: {result.torch_note}.")
    print(f"Next: `linguatune hosts doctor {profile.name}`.")
    return 0


def _read_plan(path: str) -> dict:
    from studio.planning.plan import load_plan

    return load_plan(path).to_dict()


def cmd_launch(args) -> int:
    from studio.remote.launch import launch, preview_launch
    from studio.remote.registry import JobRegistry
    from studio.session.launch import LaunchDraft, parse_overrides, read_data_file

    plan = _read_plan(args.plan)
    profile = _profile(args.host)
    request = LaunchDraft(profile, plan, preset=args.preset, name=args.name,
                          overrides=parse_overrides(args.overrides), data=read_data_file(args.data),
                          nproc_per_node=args.nproc).request()
    if args.dry_run:
        preview = preview_launch(request)
        print(f"# job {preview.job_id} on {profile.name} ({preview.launcher}) in {preview.job_dir}")
        print(f"# start: {preview.start_command}")
        print(f"# {preview.script_name}:")
        print(preview.script, end="" if preview.script.endswith("\n") else "\n")
        return 0
    with connect(profile, args.trust) as session, JobRegistry() as registry:
        job = launch(request, session, registry=registry)
    extra = f" (SLURM job {job.slurm_job_id})" if job.slurm_job_id else f" (pid {job.pid})" if job.pid else ""
    print(f"Launched {job.job_id} on {profile.name}{extra}; follow it with `linguatune follow {job.job_id}`.")
    return 0


def cmd_jobs(args) -> int:
    from studio.remote.registry import JobRegistry

    with JobRegistry() as registry:
        jobs = registry.jobs()
        if args.json:
            print(json.dumps([{**j.__dict__, "events": registry.event_count(j.id)} for j in jobs], indent=1))
            return 0
        if not jobs:
            print("No jobs yet.")
        for j in jobs:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(j.created_at))
            langs = ",".join(item["code"] for item in j.plan_summary.get("languages", []))
            print(f"{j.id:<40} {j.state:<10} {j.host:<14} {when}  {langs}  {j.name}")
    return 0


def _format_event(event) -> str:
    from studio.session.monitor import event_line

    return event_line(event)


def cmd_follow(args) -> int:
    from studio.remote.follow import Follower
    from studio.session.monitor import printable
    from studio.remote.registry import JobRegistry

    with JobRegistry() as registry:
        record = registry.find(args.job)
        profile = _profile(record.host)
        # Events already cached are shown first (offline history), then the follower resumes after them.
        for event in registry.events(record.id):
            print(json.dumps(event.to_dict()) if args.json else _format_event(event))
        if record.is_final:
            print(f"# {record.id} {record.state}" + (f": {record.message}" if record.message else ""),
                  file=sys.stderr)
            return 0 if record.state == "finished" else 1
        first = connect(profile, args.trust)
        sessions = iter([first])

        def reconnect():
            return next(sessions, None) or connect(profile)

        end = None
        for update in Follower(record, reconnect, registry=registry):
            for event in update.events:
                print(json.dumps(event.to_dict()) if args.json else _format_event(event), flush=True)
            if update.kind == "reconnecting":
                print(f"# connection lost ({update.message}); reconnecting (attempt {update.attempt})",
                      file=sys.stderr)
            elif update.kind == "state":
                print(f"# state: {update.state}", file=sys.stderr)
            elif update.kind == "warning":
                print(f"# warning: {printable(update.message)}", file=sys.stderr)
            elif update.kind == "ended":
                end = update
        if end is None:
            return 1
        print(f"# {record.id} {end.state}: {end.message}", file=sys.stderr)
        for line in end.log_tail[-40:]:
            print(f"#   {line}", file=sys.stderr)
        return 0 if end.state == "finished" else 1


def cmd_cancel(args) -> int:
    from studio.remote.jobs import cancel
    from studio.remote.registry import JobRegistry

    with JobRegistry() as registry:
        record = registry.find(args.job)
        if record.is_final:
            raise LinguaTuneError(f"Job {record.id} already ended ({record.state}).", field="job")
        with connect(_profile(record.host), args.trust) as session:
            outcome = cancel(record, session, grace_s=args.grace, registry=registry)
    print(f"Cancelled {record.id} ({outcome}).")
    return 0


def cmd_fetch(args) -> int:
    from studio.remote.jobs import fetch
    from studio.remote.registry import JobRegistry

    with JobRegistry() as registry:
        record = registry.find(args.job)
    with connect(_profile(record.host), args.trust) as session:
        result = fetch(record, session, args.dest, include_model=args.model)
    print(f"Fetched {len(result.files)} files into {result.destination}.")
    if result.model_path and not args.model:
        print(f"The tuned model is at {record.host}:{result.model_path} (add --model to copy it).")
    return 0
