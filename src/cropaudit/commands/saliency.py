"""Run a saliency model (or any cropper) on images and print the salient point and crops.

The default output is exactly the text of Twitter's original ``candidate_crops`` program:
the salient point, one ``left top width height`` crop per aspect ratio (height/width), and with
--all-points one ``x y score`` line per grid cell. --format json prints one JSON object per
image (JSON Lines). With --out-dir, one NAME.out (or NAME.json) per image is written instead.

--cropper NAME runs any cropper (`cropaudit croppers` lists them; croppers without a map
print no points with --all-points); --cropper command --command 'prog {image}' runs an
external program. Bad inputs are reported on stderr and skipped; the exit code is 1 if any
image failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "salient point and crops of images (original candidate_crops output or JSON)"
#: Results are written and flushed when ``run`` returns: the CLI may skip the interpreter's
#: teardown (cropaudit.cli._exit_now), a tenth of a one-image run.
FAST_EXIT = True


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"aspect ratio must be positive: {text!r}")
    return value


def _options(pairs: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` settings as a dict (one-line error for a malformed one)."""
    from cropaudit.errors import ConfigError

    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--cropper-option: expected KEY=VALUE, got {pair!r}")
        options[key.strip()] = value
    return options


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    parser.add_argument(
        "--aspect-ratios", nargs="+", type=_positive_float, metavar="R",
        help="crop aspect ratios h/w (default: 0.56 1.0 1.14 2.0 and the image's own)",
    )
    parser.add_argument("--all-points", action="store_true", help="also print every grid cell")
    parser.add_argument(
        "--format", choices=["candidate-crops", "json"], default="candidate-crops",
        help="output format (default: the original program's text)",
    )
    parser.add_argument("--out-dir", type=Path, help="write NAME.out / NAME.json per image")
    parser.add_argument("--model", help="model file (default: model.path from params)")
    parser.add_argument(
        "--cropper", metavar="NAME", default="fastgaze",
        help="cropper to run (default: fastgaze; `cropaudit croppers` lists them)",
    )
    parser.add_argument(
        "--command", metavar="TEMPLATE", dest="command_template",
        help="program for --cropper command, e.g. 'prog {image} {aspect_ratios}'",
    )
    parser.add_argument(
        "--cropper-option", action="append", default=[], metavar="KEY=VALUE",
        help="setting passed to the cropper (repeatable), e.g. point_aspect_ratio=1.0",
    )
    parser.add_argument("--params", help="params file (default: params.yaml if present)")
    parser.add_argument("--batch-size", type=int, help="override model.batch_size")
    parser.add_argument("--max-pixels", type=int, help="override model.max_pixels")
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="progress bar on stderr (default: only on a terminal)",
    )


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse an --out-dir that cannot receive the results, before any image is read."""
    from cropaudit.errors import ConfigError
    from cropaudit.outputs import check_writable_dir

    if args.out_dir is None:
        return
    names = [Path(p).stem for p in args.images]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"--out-dir: several inputs share the name {dupes[0]!r}")
    if args.out_dir.exists() and not args.out_dir.is_dir():
        raise ConfigError(f"--out-dir {args.out_dir}: exists and is not a folder")
    check_writable_dir(args.out_dir, "--out-dir")


def _model_params(params, overrides: dict):
    """``model:`` with the command-line overrides, validated like params.yaml (bounds, the
    decompression-bomb limit) and refused naming the flag."""
    from pydantic import ValidationError

    from cropaudit.config import allowed_range
    from cropaudit.engine.params import ModelParams
    from cropaudit.errors import ConfigError

    try:
        return ModelParams.model_validate({**params.model.model_dump(), **overrides})
    except ValidationError as exc:
        err = exc.errors()[0]
        flag = f"--{str(err['loc'][0]).replace('_', '-')}" if err["loc"] else "model"
        allowed = allowed_range(("model", *err["loc"])) if "than" in err["type"] else ""
        raise ConfigError(f"{flag}: {err['msg']}" + (f" (allowed: {allowed})" if allowed
                                                     else "")) from None


def _existing_images(images: list[str]) -> tuple[list[str], int]:
    """Inputs that are files; the others are reported now, before the model is loaded (one
    line each, the name quoted when it holds a newline or other unusual characters)."""
    from cropaudit.imaging.source import file_problem
    from cropaudit.untrusted import quote_name

    kept = []
    for path in images:
        problem = file_problem(path)
        if problem is None:
            kept.append(path)
        else:
            print(f"cropaudit saliency: error: {quote_name(path)}: {problem}", file=sys.stderr)
    return kept, len(images) - len(kept)


def run(args: argparse.Namespace) -> int:
    from cropaudit.config import load_params

    # Cheap checks first: a typo in a path must not cost the model's start-up.
    params = load_params(args.params)
    overrides = {
        k: v
        for k, v in {
            "batch_size": args.batch_size,
            "max_pixels": args.max_pixels,
        }.items()
        if v is not None
    }
    model_params = _model_params(params, overrides)
    options = _options(args.cropper_option)
    if args.command_template is not None:
        options["template"] = args.command_template
    _check_outputs(args)
    images, failed = _existing_images(args.images)
    if not images:
        print(f"cropaudit saliency: {failed} of {len(args.images)} images failed", file=sys.stderr)
        return 1

    from cropaudit.croppers.base import Cropping
    from cropaudit.croppers.registry import cropper_from_params
    from cropaudit.engine.formats import candidate_crops_text, result_json, source_header
    from cropaudit.outputs import write_text
    from cropaudit.untrusted import terminal

    cropper = cropper_from_params(params.model_copy(update={"model": model_params}),
                                  args.cropper, args.model, options)
    multiple = len(args.images) > 1
    suffix = ".json" if args.format == "json" else ".out"
    for cropping in cropper.crop_images(images, aspect_ratios=args.aspect_ratios,
                                        progress=args.progress):
        if not isinstance(cropping, Cropping):
            failed += 1
            print(f"cropaudit saliency: error: {terminal(cropping.message)}", file=sys.stderr)
            continue
        item, crops = cropping.saliency, cropping.crops
        if args.format == "json":
            text = result_json(item, crops, all_points=args.all_points)
        else:
            text = candidate_crops_text(item, crops, all_points=args.all_points)
        if args.out_dir is not None:
            write_text(args.out_dir / (Path(item.source).stem + suffix), text)
        else:
            if multiple and args.format != "json":
                sys.stdout.write(source_header(item.source))
            sys.stdout.write(text)
            sys.stdout.flush()
    if failed:
        print(f"cropaudit saliency: {failed} of {len(args.images)} images failed", file=sys.stderr)
    return 1 if failed else 0
