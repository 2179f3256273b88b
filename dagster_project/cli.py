"""`cdp`: the command line for the main jobs of the platform."""

from __future__ import annotations

import argparse
import os
from multiprocessing import util as multiprocessing_util
import sys
import time
from pathlib import Path

from dagster_project.config import ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except ConfigError as error:
        print(f"config error: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cdp", description="Customer Data Platform: ingest, resolve, profile, govern, export.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--config", help="path to cdp.yml (default: $CDP_CONFIG or the repository's cdp.yml)")
        sub.set_defaults(handler=handler)
        return sub

    generate = command("generate", _generate, "Write sample landing files of a multi-channel retailer, with ground truth.")
    generate.add_argument("--people", type=int, help="number of people (default: sample.people in cdp.yml)")
    generate.add_argument("--seed", type=int, help="random seed (default: sample.seed in cdp.yml)")
    generate.add_argument("--batch", type=int, default=1, help="1 = the initial load; K > 1 = a later day's files")
    generate.add_argument("--out", type=Path, help="landing folder to write (default: landing in cdp.yml)")
    generate.add_argument("--truth", type=Path, help="ground-truth CSV (default: truth in cdp.yml, or OUT/truth.csv with --out)")
    generate.add_argument("--defect-rate", type=float, default=0.0005, help="share of rows that break their contract (default 0.0005)")
    generate.add_argument("--noise", type=float, default=1.0, metavar="LEVEL",
                          help="scale the rates of typos, look-alike (0/O, 1/l, 5/S) and sound-alike spellings, nicknames, "
                          "blanks and wrong digits (default 1.0 = the sample's rates; 0 = clean copies)")
    generate.add_argument("--if-missing", action="store_true", help="do nothing if the landing folder already has files")

    run = command("run", _run, "Run the whole pipeline through Dagster, in process, and print a summary.")
    run.add_argument("--wait", nargs="?", type=float, const=float("inf"), default=0, metavar="SECONDS",
                     help="if another run holds the workspace, wait for it to end (at most SECONDS) instead of exiting with status 5")
    run.add_argument("--full", action="store_true",
                     help="recompute from scratch: Splink scores every pair, the churn and propensity models are retrained "
                          "(default: incremental, reusing the scores of unchanged records)")

    report = command("report", _report, "Draw a run's HTML report again (reports/run-<run_id>.html) and print its path.")
    report.add_argument("--run", metavar="RUN_ID", help="the run (default: the newest one)")
    report.add_argument("--open", action="store_true", help="open it in the default browser")

    command("docs", _docs, "Build dbt's documentation of the workspace (models, columns, tests, lineage) as one static page.")

    evaluate = command("evaluate", _evaluate, "Identity accuracy of identity.person_map against ground truth.")
    evaluate.add_argument("--truth", type=Path, help="ground-truth CSV (default: truth in cdp.yml)")

    explain = command("explain", _explain, "Why a person's records are one person: records by source, every link and its evidence.")
    explain.add_argument("person_id", help="a person_id from identity.person_map / marts.dim_customer")
    explain.add_argument("--html", type=Path, help="also write Splink waterfall charts of the person's probabilistic links to this HTML file")

    erase = command("erase", _erase, "Right to erasure: remove a person from raw data, identity, marts and exports; tombstone them.")
    who = erase.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", help="the person's email")
    who.add_argument("--phone", help="the person's phone, any format")
    who.add_argument("--person-id", help="a person_id from identity.person_map")

    identity = command("identity", _identity, "Identity commands: train the model, review the graph, record human decisions.")
    actions = identity.add_subparsers(dest="action", metavar="ACTION", required=True)

    def identity_action(name: str, help_text: str) -> argparse.ArgumentParser:
        action = actions.add_parser(name, help=help_text, description=help_text)
        # --config also after the action; absent there, the one before it stands.
        action.add_argument("--config", default=argparse.SUPPRESS, help="path to cdp.yml")
        return action

    identity_action("train", "(re)train the Splink model on the current identity records and save it beside cdp.yml")
    review = identity_action("review", "what a person should look at: links near the threshold, refused merges, "
                                "ambiguous records with little evidence, joins decided by elimination, the largest persons")
    review.add_argument("--csv", type=Path, help="also write the list as CSV to this file")
    review.add_argument("--limit", type=int, default=20, help="rows per kind in the table printed (default 20; the CSV has all)")
    for name, meaning in (("must-link", "are one person"), ("cannot-link", "are different people")):
        decide = identity_action(name, f"record that two records {meaning}; applied by every run (file identity.decisions beside cdp.yml)")
        decide.add_argument("record_key", help="source:source_record_id, as `cdp explain` prints it")
        decide.add_argument("other_record_key", help="source:source_record_id of the other record")
        decide.add_argument("--reason", required=True, help="why (kept in the decisions file, for review)")

    models = command("models", _models, "Predictive model commands (churn risk, purchase propensity).")
    models.add_argument("action", choices=["train"], help="train: (re)train both models on the warehouse's history with a time-based split; "
                        "saves each with its model card in models.folder; the next run scores with them")
    partner = command("partner", _partner, "Second-party data: privacy-preserving match keys to exchange with a partner.")
    partner.add_argument("action", choices=["encode"], help="encode: salted SHA-256 of email and phone and Bloom-filter (CLK) "
                         "encodings of name, date of birth and postcode; the secret comes from $CDP_PARTNER_SECRET")
    partner.add_argument("--input", type=Path, help="CSV with a record id and canonical columns (first_name, last_name, email, "
                         "phone, date_of_birth, postcode, country) to encode (default: the brand's identity records in the warehouse)")
    partner.add_argument("--id-column", default="record_id", help="the record id column of --input (default record_id)")
    partner.add_argument("--output", type=Path, required=True, help="encoded CSV to write")
    return parser


def _partner(args) -> int:
    import polars as pl

    from dagster_project.identity import partner_keys
    from dagster_project.warehouse import connect

    config = load_config(args.config)
    try:
        secret = partner_keys.secret_from_env()
    except partner_keys.MissingSecret as error:
        print(error, file=sys.stderr)
        return 2
    if args.input:
        records, id_column = pl.read_csv(args.input, infer_schema=False), args.id_column
    else:
        with connect(config.warehouse, read_only=True) as con:
            records, id_column = partner_keys.our_records(con), "person_id"
    encoded = partner_keys.encode_for_partner(records, id_column, secret, config.default_phone_country_code)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    encoded.write_csv(args.output)
    print(f"{encoded.height} records encoded to {args.output}")
    return 0


def _generate(args) -> int:
    from dagster_project.generate import generate_sample

    config = load_config(args.config)
    landing = (args.out or config.landing).resolve()
    truth = (args.truth or (landing / "truth.csv" if args.out else config.truth)).resolve()
    if args.if_missing and landing.is_dir() and any(p.is_file() for p in landing.rglob("*")):
        print(f"{landing} already has files; nothing generated")
        return 0
    started = time.perf_counter()
    stats = generate_sample(
        landing,
        truth,
        people=args.people or config.sample_people,
        seed=config.sample_seed if args.seed is None else args.seed,
        batch=args.batch,
        defect_rate=args.defect_rate,
        noise=args.noise,
    )
    rows = sum(stats["files"].values())
    print(f"wrote {len(stats['files'])} files, {rows} rows, to {landing}; truth: {truth} ({stats['truth_rows']} rows) in {time.perf_counter() - started:.1f}s")
    return 0


def _run(args) -> int:
    config = load_config(args.config)

    def run() -> int:
        from dagster_project.pipeline import run_pipeline  # after the lock: a refusal is immediate

        started = time.perf_counter()
        summary = run_pipeline(config, full=args.full).summary
        print()
        print(summary.render())
        print(f"\n{summary.status.capitalize()} in {time.perf_counter() - started:.1f}s; warehouse: {config.warehouse}")
        # 0 completed, 1 a step failed, 3 completed with rejected files, 4 completed but exports held (2: config error, 5: busy)
        return summary.exit_status

    return _holding_the_workspace(config, "cdp run", run, wait=args.wait)


def _holding_the_workspace(config, what: str, action, wait: float = 0) -> int:
    """Run `action` holding the workspace's run lock (one writer at a time); 5 when another holds it."""
    from dagster_project.run_lock import WorkspaceBusy, workspace_lock

    try:
        with workspace_lock(config.state_dir, what, wait=wait) as left_behind:
            if left_behind:
                print(f"taking over the run lock left by {left_behind.describe()}, which ended without releasing it", file=sys.stderr)
                _fail_stale_runs(config, left_behind)
            return action()
    except WorkspaceBusy as busy:
        print(f"{busy}; not started (`cdp run --wait` waits for it)", file=sys.stderr)
        return 5


def _fail_stale_runs(config, dead_holder) -> None:
    """Runs the dead holder left marked as going on in the Dagster run history are reported failed."""
    from dagster_project.pipeline import dagster_instance
    from dagster_project.stale_runs import fail_stale_runs

    with dagster_instance(config) as instance:
        for run_id in fail_stale_runs(instance, config, dead_holder):
            print(f"run {run_id} ended without reporting its end: marked failed", file=sys.stderr)


def _report(args) -> int:
    from dagster_project.report import render_report

    path = render_report(load_config(args.config), args.run)
    print(path)
    if args.open:
        import webbrowser

        webbrowser.open(path.as_uri())
    return 0


def _docs(args) -> int:
    from dagster_project.report.dbt_docs import build_dbt_docs

    config = load_config(args.config)
    return _holding_the_workspace(config, "cdp docs", lambda: print(build_dbt_docs(config)) or 0)


def _evaluate(args) -> int:
    from dagster_project.identity.evaluate import evaluate_identity

    config = load_config(args.config)
    report = evaluate_identity(config.warehouse, (args.truth or config.truth).resolve())
    print(report.render())
    return 0


def entry_point() -> None:
    """Console script: exit without interpreter teardown, where DuckDB's
    bindings print spurious 'nanobind: leaked' warnings."""
    code = main()
    # dbt's manifest objects hold multiprocessing locks: release them, or the
    # resource tracker warns about "leaked semaphores" after os._exit.
    multiprocessing_util._run_finalizers()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _explain(args) -> int:
    from dagster_project.identity.explain import UnknownPersonError, explain_person, write_waterfall

    config = load_config(args.config)
    try:
        explanation = explain_person(config.warehouse, args.person_id)
    except UnknownPersonError as error:
        print(error, file=sys.stderr)
        return 1
    print(explanation.render())
    if args.html:
        written = write_waterfall(config, explanation, args.html)
        print(f"\nwaterfall charts: {written}" if written else "\nno probabilistic links to chart")
    return 0


def _erase(args) -> int:
    from dagster_project.governance.erasure import NothingToErase, erase_person
    from dagster_project.publish import publish_warehouse
    from dagster_project.spark.erasure import erasure_tables
    from dagster_project.spark.resource import SparkResource

    config = load_config(args.config)

    def erase() -> int:
        try:
            report = erase_person(config, email=args.email, phone=args.phone, person_id=args.person_id,
                                  engine_tables=erasure_tables(config, SparkResource.for_workspace(config)))
        except NothingToErase as error:
            print(error, file=sys.stderr)
            return 1
        print(report.render())
        # Republished at once, whatever state the last run left the warehouse
        # in: erased people must leave what readers see without waiting for a run.
        print(f"published for readers without them: {publish_warehouse(config)}")
        print("tombstones keep them out of future loads; the next `cdp run` rebuilds every model without them")
        return 0

    return _holding_the_workspace(config, "cdp erase", erase)


def _identity(args) -> int:
    config = load_config(args.config)
    if args.action == "train":
        return _holding_the_workspace(config, "cdp identity train", lambda: _identity_train(config))
    if args.action == "review":
        return _identity_review(config, args.csv, args.limit)
    return _identity_decide(config, args.action.replace("-", "_"), args.record_key, args.other_record_key, args.reason)


def _identity_train(config) -> int:
    from dagster_project.identity.resolve import ensure_model
    from dagster_project.warehouse import connect

    with connect(config.warehouse) as con:
        summary = ensure_model(con, config, retrain=True)
    print(f"trained on {summary['records']} records in {summary['training_seconds']}s; fields: {', '.join(summary['fields_used'])}")
    about = "" if summary["blocking_counts_sample"] == 1.0 else f"about (counted on {summary['blocking_counts_sample']:.0%} of the records) "
    print(f"comparisons to score per run: {about}{summary['comparisons_to_score']} ({summary['comparisons_per_record']} per record)")
    print(f"model: {config.identity_model}")
    return 0


def _identity_review(config, csv_path: Path | None, limit: int) -> int:
    from dagster_project.identity.review import render_review, review_items

    items = review_items(config)
    print(render_review(items, limit))
    if csv_path:
        items.write_csv(csv_path)
        print(f"\n{items.height} rows written to {csv_path}")
    return 0


def _identity_decide(config, kind: str, key: str, other: str, reason: str) -> int:
    from dagster_project.identity.decisions import DecisionError, record_decision
    from dagster_project.identity.review import record_status

    try:
        row = record_decision(config.identity_decisions, kind, key, other, reason)
    except DecisionError as error:
        print(error, file=sys.stderr)
        return 2
    print(f"{kind.replace('_', '-')} {row['record_key']} {row['linked_record_key']} recorded in {config.identity_decisions}")
    for status in record_status(config, [row["record_key"], row["linked_record_key"]]):
        print(f"  {status}")
    print("the next `cdp run` applies it (and every run after, also after a full recompute or a retrain)")
    return 0


def _models(args) -> int:
    from dagster_project.ml.cli import train_command

    config = load_config(args.config)

    def train() -> int:
        print(train_command(config, retrain=True))
        return 0

    return _holding_the_workspace(config, "cdp models train", train)


if __name__ == "__main__":
    entry_point()
