"""The ``gradcore`` command line: chapter 5 of "Neural Networks and Deep Learning".

Subcommands (each a thin layer over a function of :mod:`gradcore.experiments`):

* ``gradcore chapter5`` -- initial speeds and speeds during training, offline, with
  CSV/JSON/PNG output;
* ``gradcore train`` -- train one net on full MNIST;
* ``gradcore depth`` -- validation accuracy against depth;
* ``gradcore chain`` -- the exploding and the vanishing one-neuron-per-layer chain;
* ``gradcore download`` -- fetch the MNIST files;
* ``gradcore dashboard`` -- the live dashboard in the browser (the ``dashboard`` extra).

Exit status: 0 on success; 2 for a bad argument (one line on stderr, before anything
runs); 1 when a run fails (divergence, a download, a damaged data file, the disk, memory;
one line on stderr); 130 after Ctrl-C; 141 when the reader of the output goes away
(``gradcore chain | head``), quietly. Anything else is a bug in gradcore and shows its
traceback.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TextIO

import numpy as np

from . import __version__

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (no usage block), status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {_one_line(message)}\n")


class _UsageError(Exception):
    """A bad argument found after parsing; reported like an argparse error (status 2)."""


class _RunFailed(Exception):
    """A run that could not complete what it was asked (status 1)."""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# ------------------------------------------------------------------ arg types


def _arg(function: str, name: str) -> Callable[[str], Any]:
    """An argparse type that parses and checks with the library's own constraint."""
    from ._validation import CONSTRAINTS

    rule = CONSTRAINTS[function][name]

    def parse(text: str) -> Any:
        try:
            return rule.parse(name, text)
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name
    return parse


def _mnist_dir(text: str) -> pathlib.Path:
    from . import datasets

    p = _existing_dir(text)
    missing = [n for n in datasets.FILENAMES
               if not ((p / n).is_file() or (p / f"{n}.gz").is_file())]
    if missing:
        raise argparse.ArgumentTypeError(
            f"MNIST files missing from {text}: {', '.join(missing)} (gzipped or not); "
            f"'gradcore download --dir DIR' fetches them")
    return p


def _existing_dir(text: str) -> pathlib.Path:
    p = pathlib.Path(text).expanduser()
    if not p.exists():
        raise argparse.ArgumentTypeError(f"no such folder: {text}")
    if not p.is_dir():
        raise argparse.ArgumentTypeError(f"not a folder: {text}")
    return p


def _dir_to_create(text: str) -> pathlib.Path:
    p = pathlib.Path(text).expanduser()
    if p.exists() and not p.is_dir():
        raise argparse.ArgumentTypeError(f"exists and is not a folder: {text}")
    return p


def _file_to_write(text: str) -> pathlib.Path:
    """A path a network can be saved to: checked now, before any training."""
    p = pathlib.Path(text).expanduser()
    if p.is_dir():
        raise argparse.ArgumentTypeError(f"is a folder, expected a file name: {text}")
    parent = p.parent if str(p.parent) else pathlib.Path(".")
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"folder {parent} does not exist (for {text})")
    if p.exists() and not p.is_file():
        raise argparse.ArgumentTypeError(f"not a regular file: {text}")
    try:  # what saving does first: create a file in that folder
        tempfile.TemporaryFile(dir=parent).close()
    except OSError as exc:
        raise argparse.ArgumentTypeError(
            f"cannot write in folder {parent} ({exc.strerror or exc})") from None
    return p


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


# ------------------------------------------------------------------ output


def _fmt(x: float) -> str:
    """A speed or gradient for a table: 3 significant digits."""
    return f"{x:.3g}"


def _sizes_str(sizes: Sequence[int]) -> str:
    return "[" + ", ".join(str(s) for s in sizes) + "]"


def _progress_bar(total: int, desc: str, *, stream: TextIO | None = None) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="epoch", file=stream or sys.stderr,
                disable=None, leave=False, dynamic_ncols=True)


# ------------------------------------------------------------------ chapter5


def _cmd_chapter5(args: argparse.Namespace) -> int:
    from . import experiments as ex

    hidden = ex.CHAPTER5_HIDDEN
    print(f"gradcore {__version__} chapter5: the first 1,000 MNIST training images "
          f"(embedded), nets {', '.join(_sizes_str(ex.chapter5_sizes(k)) for k in hidden)}, "
          f"seed {args.seed}")
    print(f"{args.epochs} epochs of full-batch gradient descent each (m = 1000, "
          f"eta = 0.1, lambda = 5.0)", flush=True)
    t0 = time.perf_counter()
    bar = _progress_bar(args.epochs * len(hidden), "chapter5")
    try:
        def progress(sizes: Sequence[int], epoch: int, history: Any) -> None:
            bar.set_description(f"{len(sizes) - 2} hidden layers", refresh=False)
            bar.update(1)

        result = ex.chapter5(args.out, seed=args.seed, epochs=args.epochs,
                             figures=not args.no_figures, progress=progress)
    finally:
        bar.close()
    elapsed = time.perf_counter() - t0

    print()
    print("Initial speed of learning ||delta^l|| (fresh default initialisation)")
    print(f"{'net':<28}{'layer':<11}{'gradcore':>10}{'book':>9}")
    prev = None
    for k, name, speed, book in result.initial_table():
        net = _sizes_str(result.runs[k].sizes) if k != prev else ""
        prev = k
        label = name.replace("_", " ")
        print(f"{net:<28}{label:<11}{_fmt(speed):>10}"
              f"{('-' if book is None else f'{book:g}'):>9}")

    print()
    print("Speed of learning of the hidden layers during training "
          "(before the first and the last update)")
    kmax = max(hidden)
    head = "".join(f"{'hidden ' + str(j + 1):>11}" for j in range(kmax))
    print(f"{'net':<28}{'epoch':>6}{head}{'last/first':>12}")
    for run in result.runs.values():
        for i, e in enumerate(sorted({0, run.epochs - 1})):
            row = run.speeds[e, :-1]
            cells = "".join(f"{_fmt(v):>11}" for v in row) + " " * 11 * (kmax - len(row))
            net = _sizes_str(run.sizes) if i == 0 else ""
            print(f"{net:<28}{e:>6}{cells}{row[-1] / row[0]:>11.1f}x")
    print("(the book: every speed falls fast at first, and the first hidden layer stays "
          "far slower than the last, ~100x with 4 hidden layers)")

    print()
    if result.paths:
        print(f"Wrote to {args.out}{os.sep}:")
        width = max(len(d) for d in result.paths)
        for desc, path in result.paths.items():
            print(f"  {desc:<{width}}  {path}")
    print(f"Done in {elapsed:.1f} s.")
    return EXIT_OK


# ------------------------------------------------------------------ train


def _cmd_train(args: argparse.Namespace) -> int:
    from . import experiments as ex

    sizes = args.sizes
    print(f"gradcore {__version__} train: {_sizes_str(sizes)}, {_plural(args.epochs, 'epoch')}, "
          f"m = {args.batch_size}, eta = {args.eta:g}, lambda = {args.lmbda:g}, "
          f"seed {'fresh' if args.seed is None else args.seed}")
    data = _load(args.data)
    print(f"MNIST: training {len(data.training[1])}, validation {len(data.validation[1])}, "
          f"test {len(data.test[1])} images", flush=True)
    bar = _progress_bar(args.epochs, "training")
    try:
        run = ex.train_mnist(sizes, data, epochs=args.epochs, batch_size=args.batch_size,
                             eta=args.eta, lmbda=args.lmbda, seed=args.seed,
                             callback=_epoch_report(args, ex.layer_names(len(sizes) - 1), bar))
    except ex.TrainingInterrupted as stop:
        bar.close()
        print(f"\ninterrupted: {stop.epochs_completed} of {_plural(args.epochs, 'epoch')} "
              f"completed; the network keeps every update made before Ctrl-C",
              file=sys.stderr)
        if args.save is not None:
            _save(stop.network, args.save, sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        bar.close()
    print(f"test accuracy: {100 * run.test_accuracy:.2f} %")
    if args.save is not None:
        _save(run.network, args.save, sys.stdout)
    return EXIT_OK


def _epoch_report(args: argparse.Namespace, layers: list[str],
                  bar: Any) -> Callable[[int, Any], None]:
    """The callback printing one line per epoch above the progress bar."""
    from tqdm import tqdm

    names = [n.replace("_", " ") for n in layers]

    def report(epoch: int, history: Any) -> None:
        speeds = "  ".join(f"{n} {_fmt(float(s))}"
                           for n, s in zip(names, history.learning_speeds[-1]))
        tqdm.write(f"epoch {epoch + 1:>3}/{args.epochs}: validation accuracy "
                   f"{100 * history.evaluation_accuracy[-1]:6.2f} %, validation cost "
                   f"{history.evaluation_cost[-1]:.4f}, training cost "
                   f"{history.training_cost[-1]:.4f}; speeds: {speeds}", file=sys.stdout)
        sys.stdout.flush()
        bar.update(1)

    return report


def _save(net: Any, path: pathlib.Path, stream: TextIO) -> None:
    """Save the network to path; if that fails, to a new file in the temporary folder."""
    try:
        net.save(path)
    except OSError as exc:
        fd, fallback = tempfile.mkstemp(prefix=f"gradcore-{path.stem}-", suffix=".json")
        os.close(fd)
        net.save(fallback)
        raise _RunFailed(f"could not save the network to {path} "
                         f"({exc.strerror or exc}); saved it to {fallback} instead") from exc
    print(f"saved the network to {path}", file=stream)


def _load(path: pathlib.Path | None) -> Any:
    from . import datasets

    return datasets.load_mnist(path)


# ------------------------------------------------------------------ depth


def _cmd_depth(args: argparse.Namespace) -> int:
    from . import experiments as ex

    nets = ex.DEPTH_SIZES
    print(f"gradcore {__version__} depth: {len(nets)} nets x {_plural(len(args.seeds), 'seed')} x "
          f"{args.epochs} epochs (m = 10, eta = 0.1, lambda = 5.0)")
    data = _load(args.data)
    bar = _progress_bar(len(nets) * len(args.seeds) * args.epochs, "depth")

    def progress(sizes: Sequence[int], seed: int, epoch: int, history: Any) -> None:
        bar.set_description(f"{_sizes_str(sizes)} seed {seed}", refresh=False)
        bar.update(1)

    try:
        res = ex.depth(data, epochs=args.epochs, seeds=args.seeds, callback=progress)
    finally:
        bar.close()
    print()
    sd_note = "" if len(args.seeds) > 1 else " (one seed: no sd)"
    print(f"Validation accuracy after {res.epochs} epochs, mean +/- sd over "
          f"{len(res.seeds)} seed(s){sd_note}")
    print(f"{'net':<28}{'gradcore':>18}{'best epoch':>12}{'book':>10}")
    best = 100 * res.best_accuracy.mean(axis=1)
    for s, mean, sd, b, book in zip(res.sizes, res.mean, res.sd, best, res.book):
        acc = f"{mean:.2f} %" if not np.isfinite(sd) else f"{mean:.2f} +/- {sd:.2f} %"
        print(f"{_sizes_str(s):<28}{acc:>18}{b:>10.2f} %"
              f"{('-' if book is None else f'{book:.2f} %'):>10}")
    print("(the book, one run each: deeper nets do not help, although they could at "
          "least learn what the shallower ones do)")
    return EXIT_OK


# ------------------------------------------------------------------ chain


def _print_chain(title: str, c: Any) -> None:
    print(title)
    print(f"{'layer':>5}{'w':>11}{'b':>11}{'z':>11}{'sigma_prime(z)':>16}"
          f"{'w*sigma_prime(z)':>18}{'dC/db':>13}")
    for j in range(c.depth):
        print(f"{j + 1:>5}{_fmt(c.weights[j]):>11}{_fmt(c.biases[j]):>11}"
              f"{_fmt(c.z[j]):>11}{_fmt(c.sigma_prime[j]):>16}{_fmt(c.factors[j]):>18}"
              f"{_fmt(c.grad_b[j]):>13}")
    if c.depth > 1:
        ratios = ", ".join(_fmt(float(r)) for r in c.ratios)
        print(f"dC/db(j-1) / dC/db(j), going backwards: {ratios}")


def _cmd_chain(args: argparse.Namespace) -> int:
    from . import experiments as ex

    res = ex.chain(args.depth, args.weight, seed=args.seed)
    print(f"gradcore {__version__} chain: one sigmoid neuron per layer, {args.depth} "
          f"layers, input x = 1, quadratic cost with target 0")
    print("dC/db1 = sigma'(z1) * w2 sigma'(z2) * ... * wd sigma'(zd) * dC/dad\n")
    _print_chain(f"Exploding gradient: every w = {args.weight:g}, biases chosen so every "
                 f"z = 0 (sigma'(0) = 1/4), so every factor w*sigma'(z) = "
                 f"{args.weight / 4:g}", res.exploding)
    print()
    _print_chain(f"Vanishing gradient: w and b ~ N(0, 1) (seed {args.seed}); "
                 f"|w*sigma'(z)| <= |w|/4, below 1/4 whenever |w| < 1", res.vanishing)
    return EXIT_OK


# ------------------------------------------------------------------ download


def _cmd_download(args: argparse.Namespace) -> int:
    from . import datasets

    target = args.dir if args.dir is not None else datasets.default_cache_dir()
    print(f"downloading the MNIST files missing from {target} ...", flush=True)
    folder = datasets.download_mnist(args.dir, progress=True)
    print(f"MNIST files are in {folder}")
    return EXIT_OK


# ------------------------------------------------------------------ dashboard


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from . import dashboard

    return dashboard.main(args.host, args.port, not args.no_browser)


# ------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``gradcore`` command."""
    p = _Parser(
        prog="gradcore",
        description="Measure how fast each layer of a deep sigmoid network learns: "
                    "chapter 5 of Nielsen's 'Neural Networks and Deep Learning'.",
        epilog="Start with 'gradcore chapter5' (offline, under a minute).")
    p.add_argument("--version", action="version", version=f"gradcore {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    seed_help = "random seed (default: %(default)s)"

    c = sub.add_parser(
        "chapter5", help="reproduce the chapter's learning-speed experiments (offline)",
        description="For 2, 3 and 4 hidden layers of 30 neurons on the embedded first "
                    "1,000 MNIST training images: the initial learning speed of every layer "
                    "beside the book's, then full-batch gradient descent (m = 1000, "
                    "eta = 0.1, lambda = 5.0) recording the speeds before each epoch's "
                    "update. Writes speeds_{2,3,4}_hidden.csv, chapter5.json and PNG "
                    "figures to the output folder.")
    c.add_argument("--out", type=_dir_to_create, default=pathlib.Path("gradcore-chapter5"),
                   metavar="DIR", help="output folder, created if needed "
                                       "(default: ./gradcore-chapter5)")
    c.add_argument("--seed", type=_arg("experiments.chapter5", "seed"), default=0,
                   metavar="N", help=seed_help)
    c.add_argument("--epochs", type=_arg("experiments.chapter5", "epochs"), default=500,
                   metavar="N",
                   help="epochs of gradient descent (default: %(default)s)")
    c.add_argument("--no-figures", action="store_true", help="write CSV and JSON only")
    c.set_defaults(func=_cmd_chapter5)

    t = sub.add_parser(
        "train", help="train one net on full MNIST",
        description="Train on the 50,000 MNIST training images with mini-batch SGD and L2 "
                    "weight decay, reporting validation accuracy, cost and learning speeds "
                    "after every epoch and the test accuracy at the end. Ctrl-C stops "
                    "(status 130) and keeps the network (saved with --save).")
    t.add_argument("--sizes", type=_arg("experiments.train_mnist", "sizes"),
                   default=(784, 30, 30, 10), metavar="LIST",
                   help="layer sizes, comma-separated (default: 784,30,30,10)")
    t.add_argument("--epochs", type=_arg("experiments.train_mnist", "epochs"), default=30,
                   metavar="N",
                   help="epochs (default: %(default)s)")
    t.add_argument("--batch-size", type=_arg("experiments.train_mnist", "batch_size"),
                   default=10, metavar="M",
                   help="mini-batch size (default: %(default)s)")
    t.add_argument("--eta", type=_arg("experiments.train_mnist", "eta"), default=0.1,
                   help="learning rate (default: %(default)s)")
    t.add_argument("--lmbda", type=_arg("experiments.train_mnist", "lmbda"), default=5.0,
                   help="L2 regularisation strength lambda (default: %(default)s)")
    _data_arg(t)
    t.add_argument("--seed", type=_arg("experiments.train_mnist", "seed"), default=None,
                   metavar="N",
                   help="random seed (default: fresh entropy)")
    t.add_argument("--save", type=_file_to_write, default=None, metavar="FILE",
                   help="write the trained network to FILE (JSON)")
    t.set_defaults(func=_cmd_train)

    d = sub.add_parser(
        "depth", help="validation accuracy against depth on full MNIST",
        description="Train [784,30,10] ... [784,30,30,30,30,10] (m = 10, eta = 0.1, "
                    "lambda = 5.0) and tabulate the validation accuracy, mean +/- sd over "
                    "seeds, beside the book's 96.48, 96.90, 96.57, 96.53 %.")
    _data_arg(d)
    d.add_argument("--epochs", type=_arg("experiments.depth", "epochs"), default=30,
                   metavar="N",
                   help="epochs per net (default: %(default)s)")
    d.add_argument("--seeds", type=_arg("experiments.depth", "seeds"), default=[0],
                   metavar="K",
                   help="train every net with seeds 0..K-1 (default: 1)")
    d.set_defaults(func=_cmd_depth)

    ch = sub.add_parser(
        "chain", help="the exploding and vanishing gradient of a one-neuron-per-layer chain",
        description="A chain of one sigmoid neuron per layer. Exploding: every weight is "
                    "--weight and the biases make every z = 0, so each factor "
                    "w*sigma'(z) = weight/4 and dC/db grows by it per layer backwards. "
                    "Vanishing: weights and biases ~ N(0, 1).")
    ch.add_argument("--depth", type=_arg("experiments.chain", "depth"), default=4,
                    metavar="D",
                    help="neurons in the chain, 1..100 (default: %(default)s)")
    ch.add_argument("--weight", type=_arg("experiments.chain", "weight"), default=100.0,
                    metavar="W",
                    help="the weight of the exploding chain (default: %(default)g)")
    ch.add_argument("--seed", type=_arg("experiments.chain", "seed"), default=0,
                    metavar="N",
                    help="seed of the vanishing chain (default: %(default)s)")
    ch.set_defaults(func=_cmd_chain)

    dl = sub.add_parser(
        "download", help="download the four MNIST files",
        description="Download the MNIST IDX files missing from DIR (default: the user "
                    "cache, where 'gradcore train' and 'gradcore depth' look), each "
                    "verified against its published checksum.")
    dl.add_argument("--dir", type=_dir_to_create, default=None, metavar="DIR",
                    help="destination folder (default: the user cache)")
    dl.set_defaults(func=_cmd_download)

    db = sub.add_parser(
        "dashboard", help="watch each layer's speed of learning live in the browser",
        description="Serve a live dashboard (Bokeh) that trains a net on the embedded 1,000 "
                    "MNIST images and plots each layer's speed of learning as it trains, "
                    "and open it in the browser. Serves until Ctrl-C (status 130).")
    db.add_argument("--port", type=_arg("dashboard.main", "port"), default=5006,
                    help="port to listen on, 0 for a free one (default: %(default)s)")
    db.add_argument("--host", default="127.0.0.1",
                    help="address to listen on (default: %(default)s); any other than a "
                         "loopback address lets anyone who can reach the port use the CPU")
    db.add_argument("--no-browser", action="store_true",
                    help="print the page's address but do not open a browser")
    db.set_defaults(func=_cmd_dashboard)
    p.subcommands = dict(sub.choices)  # type: ignore[attr-defined]
    return p


def _data_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=_mnist_dir, default=None, metavar="DIR",
                   help="folder of the four MNIST IDX files (default: $GRADCORE_DATA, else "
                        "the user cache, downloading once)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``gradcore`` command line; returns the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name (default ``sys.argv[1:]``).
    """
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(None if argv is None else list(argv))
        if extra:
            sub = parser.subcommands.get(  # type: ignore[attr-defined]
                getattr(args, "command", None), parser)
            sub.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # --help, --version, or a usage error already reported
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return _run(args)
    except BrokenPipeError:
        # the reader of our output went away (`gradcore ... | head`): stop quietly, like
        # a Unix tool killed by SIGPIPE, and keep Python from complaining at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + int(getattr(signal, "SIGPIPE", 13))


def _failures() -> tuple[type[BaseException], ...]:
    """What makes a run fail (status 1), as opposed to a bug (a traceback)."""
    from . import DivergenceError, NetworkFileError, Stopped
    from .datasets import MNISTChecksumError, MNISTDownloadError

    return (_RunFailed, DivergenceError, Stopped, NetworkFileError, MNISTChecksumError,
            MNISTDownloadError, OSError)


def _run(args: argparse.Namespace) -> int:
    """Run the subcommand; map what went wrong by kind to one line and a status.

    A bad argument: status 2. A run that failed (divergence, a download, a data file, the
    disk, memory): status 1. Ctrl-C: 130. Anything else is a bug in gradcore and keeps its
    traceback.
    """
    prog = f"gradcore {args.command}"
    try:
        return int(args.func(args))
    except _UsageError as exc:
        print(f"{prog}: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except MemoryError:
        print(f"{prog}: error: not enough memory for this run (a smaller network or fewer "
              f"examples need less)", file=sys.stderr)
        return EXIT_FAILURE
    except BrokenPipeError:
        raise
    except _failures() as exc:
        print(f"{prog}: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_FAILURE
