"""This engine on the CPU and the GPU, against PyTorch, as one command.

    python -m benchmarks [--device cpu|cuda|all] [--quick] [--out DIR]
                         [--only kernels,training,overhead,scaling] [--repeats N] [--no-torch]

Writes DIR/results.json (machine facts and every raw timing), DIR/results.md
(the tables) and DIR/*.png (charts), and prints the tables.
"""
import argparse
import os
import sys

from . import kernels, overhead, report, scaling, training
from .common import load_torch, machine_info, write_json

RUNNERS = {"kernels": kernels.run, "training": training.run, "overhead": overhead.run,
           "scaling": scaling.run}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cpu", "cuda", "all"), default="all",
                        help="'all' runs the GPU too when one is usable (default)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that it runs")
    parser.add_argument("--out", default=os.path.join("benchmarks", "out"))
    parser.add_argument("--only", default=",".join(RUNNERS),
                        help="comma-separated sections (default: all)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs (default 7, quick 3)")
    parser.add_argument("--no-torch", action="store_true", help="do not time PyTorch")
    args = parser.parse_args(argv)

    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in sections if s not in RUNNERS]
    if unknown:
        parser.error("unknown section(s) %s; choose from %s" % (unknown, ", ".join(RUNNERS)))
    import autograd as ag
    repeats = args.repeats or (3 if args.quick else 7)
    torch = load_torch(not args.no_torch)

    devices, skipped = [], []
    if args.device in ("cpu", "all"):
        devices.append("cpu")
    if args.device in ("cuda", "all"):
        gpu = ag.cuda.is_available()
        if gpu:
            devices.append("cuda")
        elif args.device == "cuda":
            parser.error("--device cuda: no usable GPU: " + gpu.reason)
        else:
            skipped.append("cuda: no usable GPU here: " + gpu.reason)
    if torch is None:
        skipped.append("torch: not installed (pip install torch) or --no-torch")

    results = []
    for device in devices:
        for name in sections:
            print("running %s on %s ..." % (name, device), file=sys.stderr, flush=True)
            results += RUNNERS[name](device, args.quick, repeats, torch)

    payload = {"benchmark": "autograd-vs-torch", "quick": args.quick, "devices": devices,
               "sections": sections, "skipped": skipped, "machine": machine_info(),
               "results": results}
    report.validate(payload)
    os.makedirs(args.out, exist_ok=True)
    write_json(os.path.join(args.out, "results.json"), payload)
    text = report.markdown(payload)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(text)
    payload["charts"] = report.charts(payload, args.out)
    print(text)
    print("wrote %s" % ", ".join([os.path.join(args.out, "results.json"),
                                  os.path.join(args.out, "results.md")] + payload["charts"]))
    return payload


if __name__ == "__main__":
    main()
