"""The ``tamer-lab`` command: offline assets, the label-scarcity tour, and the validation report."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from ._runtime import progress_enabled


def _assets(args) -> int:
    from . import assets

    if args.action == "list":
        for row in assets.status():
            print(f"{row['name']:16s} {row['state']:10s} {row['package']:28s} {row['path']}\n{'':16s} {row['description']}")
        return 0
    if args.action == "verify":
        bad = 0
        for name in args.names or sorted(assets.ASSETS):
            problems = assets.verify(name)
            print(f"{name}: {'ok' if not problems else '; '.join(problems)}")
            bad += bool(problems)
        return 1 if bad else 0
    for name in args.names or sorted(assets.ASSETS):
        start = time.perf_counter()
        path = assets.fetch(name, force=args.force)
        print(f"{name}: {path} ({time.perf_counter() - start:.1f} s)")
    return 0


def _tour(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .tour import run_tour, tour_data, tour_settings

    settings = tour_settings()
    train, test = tour_data(settings.test_size)
    print(f"label-scarcity tour ({settings.mode} mode): Rotten Tomatoes, fresh vs rotten, movie-disjoint split")
    print(f"  train: {train.describe()}\n  test:  {test.describe()}")
    start = time.perf_counter()
    results = run_tour(settings=settings, progress=None if not args.quiet else False, recompute=args.recompute)
    print(f"\ntest accuracy, mean ± 95% t-interval half-width over seeds ({time.perf_counter() - start:.0f} s):\n")
    print(results.to_markdown())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ax = results.plot(title="Rotten Tomatoes: accuracy against labels")
    fig = ax.figure
    fig.tight_layout()
    fig.savefig(out / "label_scarcity.png", dpi=120)
    plt.close(fig)
    (out / "label_scarcity.md").write_text(results.to_markdown() + "\n")
    print(f"\nwrote {out / 'label_scarcity.png'} and {out / 'label_scarcity.md'}")
    return 0


def _validate(args) -> int:
    from .theory import checks

    from ._runtime import atomic_write, quick_mode

    checks.load_all()
    if args.report:  # the checks' figures go beside the report
        report = Path(args.report)
        os.environ["TAMER_LAB_FIGURES"] = str(report.parent / f"{report.stem}_figures")
    start = time.perf_counter()
    results = checks.run_all(None, names=args.only or None, progress=progress_enabled() and not args.quiet)
    print(checks.format_table(results))
    if args.report:
        mode = "quick" if quick_mode() else "full"
        text = checks.to_markdown(results, relative_to=report.parent,
                                  title=f"tamer_lab validation report ({mode} mode, {time.perf_counter() - start:.0f} s)")
        atomic_write(report, lambda tmp: Path(tmp).write_text(text + "\n"))
        print(f"wrote {args.report}")
    failed = [r.name for r in results if not r.passed]
    print(f"{len(results) - len(failed)}/{len(results)} checks passed" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="tamer-lab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("assets", help="fetch, list or verify the offline model and data")
    a.add_argument("action", choices=["fetch", "list", "verify"])
    a.add_argument("names", nargs="*", help="asset names (default: all)")
    a.add_argument("--force", action="store_true", help="fetch again even if the cache is intact")
    a.set_defaults(fn=_assets)
    t = sub.add_parser("tour", help="the label-scarcity learning curve on the real task")
    t.add_argument("--quick", action="store_true", help="CI-sized run (same as TAMER_LAB_QUICK=1)")
    t.add_argument("--out", default="figures", help="folder for the figure and table (default: figures)")
    t.add_argument("--recompute", action="store_true", help="ignore cached grid cells")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.set_defaults(fn=_tour)
    v = sub.add_parser("validate", help="run every registered theory check and print the report")
    v.add_argument("--quick", action="store_true", help="CI-sized checks (same as TAMER_LAB_QUICK=1)")
    v.add_argument("--report", help="also write the report as Markdown to this file")
    v.add_argument("--only", nargs="*", help="run only these checks")
    v.add_argument("--quiet", action="store_true", help="no progress bars")
    v.set_defaults(fn=_validate)
    args = parser.parse_args(argv)
    if getattr(args, "quick", False):
        os.environ["TAMER_LAB_QUICK"] = "1"  # everything in this process runs CI-sized, progress bars off
    try:
        return args.fn(args)
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"tamer-lab {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
