"""The ``ltx-pipelines`` command line.

Core commands run the library directly; ``materialize`` goes through Dagster (imported only there).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ltx_pipelines.home import Home

ASSET_ORDER = [
    "raw_videos",
    "video_clips",
    "video_frames",
    "captions",
    "latents",
    "lora_adapter",
    "adapter_evaluation",
    "registered_adapter",
]
LINEAGE_SUMMARY = [
    "ltx.dataset",
    "ltx.dataset_version",
    "ltx.base_model",
    "ltx.base_model_revision",
    "ltx.code_version",
    "ltx.dagster_run_id",
    "ltx.mlflow_run_id",
]
SUMMARY_KEYS = {
    "raw_videos": ["clips", "probed", "quarantined"],
    "video_clips": ["clips", "scenes_detected", "quarantined"],
    "video_frames": ["clips", "decoded", "reused", "quarantined"],
    "captions": ["captioned", "given", "generated", "quarantined"],
    "latents": ["samples", "train", "holdout", "videos_encoded"],
    "lora_adapter": ["status", "steps", "first_loss", "final_loss", "seconds"],
    "adapter_evaluation": ["heldout_clips", "base_loss", "adapter_loss", "champion_loss", "prior_regression"],
    "registered_adapter": ["model_name", "version", "aliases", "status", "champion_version"],
}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except (FileNotFoundError, NotADirectoryError, ValueError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ltx-pipelines", description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="LTX_PIPELINES_HOME (default: $LTX_PIPELINES_HOME or ./.ltx)")
    commands = parser.add_subparsers(title="commands")

    demo = commands.add_parser("demo-data", help="write the synthetic demo dataset (clips + captions)")
    demo.add_argument("directory", type=Path)
    demo.add_argument("--count", type=int, help="clips (default 16; 40 with --recipe)")
    demo.add_argument("--style", default="neon", choices=["neon", "plain", "night", "outline"])
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--audio", action="store_true", help="give each clip a tone (for audio + video models)")
    demo.add_argument("--pairs", action="store_true", help="IC-LoRA pairs: NAME.ref.mp4 and its colour negative")
    demo.add_argument(
        "--recipe",
        action="store_true",
        help="the make-demo dataset: neon clips, a prior set of other styles in .prior/ and an ltx.yaml naming the "
        "pre-trained demo-ltx-video base",
    )
    demo.set_defaults(handler=_demo_data)

    model = commands.add_parser("build-model", help="build a tiny preset base model into <home>/models (no download)")
    model.add_argument("name", nargs="?", default="tiny-ltx-video")
    model.set_defaults(handler=_build_model)

    train = commands.add_parser("train", help="the whole fine-tune without Dagster (for a GPU pod), same outputs")
    train.add_argument("config", type=Path, help="YAML: dataset: DIR, optional recipe: {...}, device: auto")
    train.set_defaults(handler=_train)

    run = commands.add_parser("materialize", help="register DIR as a dataset and materialize the whole graph")
    run.add_argument("--dataset", required=True, type=Path)
    run.add_argument("--key", help="partition key (default: the folder name)")
    run.add_argument("--steps", type=int, help="override the recipe's training steps")
    run.add_argument("--json", action="store_true", help="print the outcome as JSON")
    run.set_defaults(handler=_materialize)

    inspect = commands.add_parser(
        "inspect", help="scan a dataset folder: clips, their buckets and the quarantine (no decoding, no Dagster)"
    )
    inspect.add_argument("dataset", type=Path)
    inspect.add_argument("--json", action="store_true")
    inspect.set_defaults(handler=_inspect)

    registry = commands.add_parser("registry", help="registered adapters in MLflow").add_subparsers(title="registry")
    listing = registry.add_parser("list", help="every registered adapter with versions and aliases")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_registry_list)
    show = registry.add_parser("show", help="one version: NAME@ALIAS or NAME/VERSION")
    show.add_argument("reference")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_registry_show)
    pull = registry.add_parser("pull", help="download a version's adapter (and generator) to a folder")
    pull.add_argument("reference", help="NAME@ALIAS or NAME/VERSION")
    pull.add_argument("destination", type=Path)
    pull.add_argument("--json", action="store_true")
    pull.set_defaults(handler=_registry_pull)
    promote = registry.add_parser("promote", help="make a version the champion (manual override of the gate)")
    promote.add_argument("name")
    promote.add_argument("version")
    promote.add_argument("--reason", default="promoted by hand")
    promote.add_argument("--json", action="store_true")
    promote.set_defaults(handler=_registry_promote)
    rollback = registry.add_parser("rollback", help="move champion back to the previous champion")
    rollback.add_argument("name")
    rollback.add_argument("--json", action="store_true")
    rollback.set_defaults(handler=_registry_rollback)

    generate = commands.add_parser("generate", help="generate a video with a registered adapter")
    generate.add_argument("--adapter", required=True, help="models:/NAME@ALIAS, NAME@ALIAS or NAME/VERSION")
    generate.add_argument("--prompt", required=True)
    generate.add_argument("--out", required=True, type=Path, help="output .mp4")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--steps", type=int, help="inference steps (default: the recipe's)")
    generate.add_argument("--adapter-scale", type=float, default=1.0, help="0 gives the base model's output")
    generate.set_defaults(handler=_generate)
    for sub in (listing, show, pull, promote, rollback, generate):
        sub.add_argument(
            "--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or the home's SQLite)"
        )
    return parser


def _home(args) -> Home:
    return Home.from_env(args.home)


def _demo_data(args) -> int:
    from ltx_pipelines.demo_data import write_dataset, write_demo_dataset, write_pairs

    if args.recipe:
        paths = write_demo_dataset(args.directory, count=args.count or 40, seed=args.seed)
        print(f"wrote {len(paths)} neon clips, a prior set and ltx.yaml to {args.directory}")
        return 0
    if args.pairs:
        paths = write_pairs(args.directory, count=args.count or 16, seed=args.seed)
        print(f"wrote {len(paths)} reference/target pairs with captions to {args.directory}")
        return 0
    count = args.count or 16
    paths = write_dataset(args.directory, count=count, style=args.style, seed=args.seed, audio=args.audio)
    print(f"wrote {len(paths)} clips with captions to {args.directory}")
    return 0


def _inspect(args) -> int:
    from ltx_pipelines.clips import plan_clips
    from ltx_pipelines.config import load_recipe
    from ltx_pipelines.dataset import scan_dataset

    spec = load_recipe(args.dataset).dataset
    scan = scan_dataset(args.dataset, spec)
    clips = plan_clips(scan.clips, spec)
    quarantined = [q.to_dict() for q in scan.quarantined + clips.quarantined]
    windows = [
        {"clip_id": w.clip_id, "bucket": w.bucket, "start": round(w.start, 3), "caption": w.caption}
        for w in clips.clips
    ]
    if args.json:
        print(json.dumps({"manifest": scan.manifest, "clips": windows, "quarantined": quarantined}, indent=2))
        return 0
    print(f"{args.dataset}: {'manifest ' + scan.manifest if scan.manifest else 'folder'}, {len(windows)} clip(s)")
    for window in windows:
        caption = "captioned" if window["caption"] else "no caption"
        print(f"  {window['clip_id']:<40} {window['bucket']:<14} {caption}")
    if quarantined:
        print(f"quarantined ({len(quarantined)}):")
    for entry in quarantined:
        print(f"  {entry['path']:<40} {entry['stage']:<12} {entry['reason']}")
    return 0


def _build_model(args) -> int:
    from ltx_pipelines.models import resolve_model

    model = resolve_model(args.name, _home(args).ensure())
    print(f"{model.model_id}: {model.path} ({model.pipeline_class}, fingerprint {model.fingerprint})")
    return 0


def _train(args) -> int:
    from tqdm import tqdm

    from ltx_pipelines.workflow import load_train_config, run_workflow

    folder, recipe, device = load_train_config(args.config)
    bar = tqdm(total=recipe.training.steps, desc="training", unit="step", disable=None)

    def on_step(log) -> None:
        bar.n = log.step
        bar.set_postfix(loss=f"{log.loss:.4f}", lr=f"{log.lr:.1e}", refresh=False)
        bar.refresh()

    result = run_workflow(
        folder, recipe, _home(args).ensure(), device, on_stage=lambda stage: tqdm.write(f"· {stage}"), on_step=on_step
    )
    bar.close()
    for entry in result.quarantined:
        print(f"quarantined {entry.path} ({entry.stage}): {entry.reason}")
    report = result.report
    print(f"adapter: {result.training.adapter.diffusers_file} ({'trained' if result.trained else 'reused'})")
    print(f"comfyui: {result.training.adapter.comfyui_file}")
    if report.prior is not None:
        print(f"prior-set loss: base {report.prior.base:.4f}, adapter {report.prior.adapter:.4f}")
    print(
        f"held-out loss: base {report.heldout.base:.4f}, adapter {report.heldout.adapter:.4f} "
        f"({report.relative_improvement:+.1%}); run folder {result.job.run_dir}"
    )
    return 0


def _materialize(args) -> int:
    from assets.materialize import materialize_dataset

    home = _home(args).ensure()
    run_config = {}
    if args.steps:
        run_config = {"ops": {"lora_adapter": {"config": {"steps": args.steps}}}}
    outcome = materialize_dataset(args.dataset, home, key=args.key, run_config=run_config)
    if args.json:
        print(
            json.dumps(
                {
                    "run_id": outcome.run_id,
                    "success": outcome.success,
                    "partition": outcome.partition,
                    "materialized": {a.asset: a.metadata for a in outcome.materialized},
                    "failures": outcome.failures,
                },
                default=str,
                indent=2,
            )
        )
    else:
        _print_summary(outcome)
    return 0 if outcome.success and len(outcome.materialized) == len(ASSET_ORDER) else 1


def _print_summary(outcome) -> None:
    by_asset = {a.asset: a.metadata for a in outcome.materialized}
    print()
    print(f"run {outcome.run_id}  dataset {outcome.partition}  {'SUCCESS' if outcome.success else 'FAILED'}")
    for asset in ASSET_ORDER:
        if asset not in by_asset:
            print(f"  {asset:<20} not materialized")
            continue
        facts = [f"{k}={_short(by_asset[asset].get(k))}" for k in SUMMARY_KEYS[asset] if k in by_asset[asset]]
        print(f"  {asset:<20} {'  '.join(facts)}")
    quarantine = by_asset.get("captions", {}).get("quarantined") or 0
    if quarantine:
        print(f"  ({quarantine} file(s) quarantined: see the quarantine table in the captions metadata)")
    for failure in outcome.failures:
        print(f"  FAILED {failure}")
    registered = by_asset.get("registered_adapter")
    if registered:
        print()
        print(
            f"Registered {registered['model_name']} version {registered['version']} "
            f"(aliases: {registered['aliases']}) in {registered['tracking_uri']}"
        )
        name, uri = registered["model_name"], registered["tracking_uri"]
        alias = "champion" if "champion" in str(registered.get("aliases", "")) else "candidate"
        print(f"Promotion: {registered.get('promotion', '')}")
        print("Look at it:")
        print(f"  ltx-pipelines registry show {name}@{alias}")
        print(f"  DAGSTER_HOME={outcome.dagster_home} dagster dev -w workspace.yaml   # runs and materializations")
        if uri.startswith(("http://", "https://")):
            print(f"  {uri}   # the MLflow run and the model version")
        else:
            print(f"  mlflow ui --backend-store-uri {uri}   # the run and the model version")
        print("Generate with it:")
        prompt = outcome.sample_prompt or "a red circle moving from left to right"
        print(f'  ltx-pipelines generate --adapter models:/{name}@{alias} --prompt "{prompt}" --out {name}.mp4')


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _registry(args):
    import os

    from ltx_pipelines.registry import RegistryClient

    home = _home(args)
    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or home.mlflow_tracking_uri
    return RegistryClient(uri)


def _registry_pull(args) -> int:
    adapter = _registry(args).pull(args.reference, args.destination)
    print(json.dumps({"adapter": str(adapter)}) if args.json else f"adapter: {adapter}")
    return 0


def _registry_promote(args) -> int:
    info = _registry(args).promote(args.name, args.version, args.reason)
    print(json.dumps(info.to_dict(), default=str) if args.json else f"{info.name} champion is now v{info.version}")
    return 0


def _registry_rollback(args) -> int:
    info = _registry(args).rollback(args.name)
    print(
        json.dumps(info.to_dict(), default=str) if args.json else f"{info.name} champion rolled back to v{info.version}"
    )
    return 0


def _generate(args) -> int:
    client = _registry(args)
    info = client.resolve(args.adapter)
    model = client.load_generator(info.uri)
    params = {"output_dir": str(args.out.parent.resolve()), "seed": args.seed, "adapter_scale": args.adapter_scale}
    if args.steps:
        params["steps"] = args.steps
    result = model.predict([args.prompt], params=params)
    produced = Path(result["video_path"][0])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    produced.replace(args.out)
    print(f"{args.out}  ({info.name} v{info.version}, seed {args.seed})")
    return 0


def _registry_list(args) -> int:
    models = _registry(args).list_models()
    if args.json:
        print(json.dumps(models, indent=2, default=str))
        return 0
    if not models:
        print("no registered adapters")
    for model in models:
        aliases = ", ".join(f"{a}→v{v}" for a, v in sorted(model["aliases"].items())) or "no aliases"
        print(f"{model['name']}  ({aliases})")
        for version in model["versions"]:
            tags, metrics = version["tags"], version["metrics"]
            loss = metrics.get("eval/adapter_loss")
            print(
                f"  v{version['version']:<4} {','.join(version['aliases']) or '-':<12} "
                f"adapter_loss={_short(loss) if loss is not None else 'n/a'}"
            )
            for key in LINEAGE_SUMMARY:
                print(f"        {key:<24} {tags.get(key, '')}")
    return 0


def _registry_show(args) -> int:
    info = _registry(args).resolve(args.reference)
    if args.json:
        print(json.dumps(info.to_dict(), indent=2, default=str))
        return 0
    print(f"{info.name} version {info.version}  aliases: {', '.join(info.aliases) or '-'}")
    print(f"  uri:    models:/{info.name}/{info.version}")
    print(f"  run:    {info.run_id}")
    print(f"  source: {info.source}")
    print("  lineage:")
    for key, value in sorted(info.tags.items()):
        print(f"    {key:<28} {value}")
    print("  metrics:")
    for key, value in sorted(info.metrics.items()):
        print(f"    {key:<28} {_short(value)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
