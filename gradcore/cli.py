"""The ``gradcore`` command line: chapter 5 of "Neural Networks and Deep Learning".

Subcommands (each a thin layer over a function of :mod:`gradcore.experiments`):

* ``gradcore chapter5`` -- initial speeds and speeds during training, offline, with
  CSV/JSON/PNG output;
* ``gradcore train`` -- train one net on full MNIST;
* ``gradcore depth`` -- validation accuracy against depth;
* ``gradcore chain`` -- the exploding and the vanishing one-neuron-per-layer chain;
* ``gradcore phase`` -- the unstable gradient as a phase diagram, depth x weight scale;
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


class _RunFailed(Exception):
    """A run that could not complete what it was asked (status 1)."""


class _BadArguments(Exception):
    """Options that are each valid but do not go together (status 2)."""


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


def _real(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _activations(text: str) -> str | tuple[str, ...]:
    """One activation name, or one per hidden layer, comma-separated."""
    from ._arch import ACTIVATIONS

    names = [t.strip() for t in text.split(",")]
    for n in names:
        if n not in ACTIVATIONS:
            raise argparse.ArgumentTypeError(
                f"activation must be one of {', '.join(ACTIVATIONS)} (or one per hidden "
                f"layer, comma-separated), got {n!r}")
    return names[0] if len(names) == 1 else tuple(names)


def _remedy_args(p: Any, *, init_help: str | None = None) -> None:
    """The network's and the update's choices beside the book's (gradcore.train's)."""
    g = p.add_argument_group(
        "remedies", "the network and the update beside the book's sigmoid net and plain "
        "SGD (see 'gradcore remedies' and the README)")
    g.add_argument("--activation", type=_activations, default=None, metavar="NAME",
                   help="hidden activation, or one per hidden layer comma-separated: "
                        "sigmoid (default), tanh, softsign, relu, leaky_relu, elu, prelu, "
                        "linear")
    g.add_argument("--output", choices=("sigmoid", "softmax"), default=None,
                   help="output layer (softmax takes the log-likelihood cost)")
    g.add_argument("--init", type=_arg("Network", "init"), default=None, metavar="INIT",
                   help=init_help or "initialisation: default, large, glorot, "
                        "glorot_standard, lecun, he, orthogonal, sparse, a weight scale s, "
                        "gaussian:WEIGHT_VAR[,BIAS_VAR] or orthogonal:GAIN[,BIAS_VAR]")
    g.add_argument("--momentum", type=_real, default=0.0, metavar="MU",
                   help="classical momentum in [0, 1) (default: 0, plain SGD)")
    g.add_argument("--nesterov", action="store_true",
                   help="Nesterov's accelerated gradient (needs --momentum)")
    g.add_argument("--schedule", choices=("sutskever",), default=None,
                   help="Sutskever et al.'s momentum schedule rising to --momentum")
    g.add_argument("--clip-norm", type=_real, default=None, metavar="C",
                   help="clip each mini-batch's gradient norm to C")
    g.add_argument("--dropout", type=_real, default=0.0, metavar="P",
                   help="drop each hidden unit with probability P per mini-batch")


def _remedy(args: argparse.Namespace, sizes: Sequence[int]) -> dict[str, Any]:
    """The remedy options given, checked for a net of ``sizes`` (status 2 if not valid)."""
    from .experiments.jobs import check_remedy

    given = {"activation": args.activation, "output": args.output, "init": args.init,
             "momentum": args.momentum or None, "nesterov": args.nesterov or None,
             "schedule": args.schedule, "clip_norm": args.clip_norm,
             "dropout": args.dropout or None}
    remedy = {k: v for k, v in given.items() if v is not None}
    try:
        check_remedy({k: v for k, v in remedy.items() if k != "init" or v != "orthogonal"
                      or args.command != "phase"}, sizes)
    except (TypeError, ValueError) as exc:
        raise _BadArguments(str(exc)) from None
    return remedy


def _subcommand(sub: Any, name: str, func: Callable[[argparse.Namespace], int], help: str,
                description: str) -> Any:
    """A subcommand's parser, which runs ``func``."""
    p = sub.add_parser(name, help=help, description=description)
    p.set_defaults(func=func)
    return p


def _option(p: Any, flag: str, function: str, default: Any, help: str,
            metavar: str | None = None, name: str | None = None) -> None:
    """``flag``, parsed and checked by the constraint of ``function``'s argument ``name``
    (default: the flag's own name, ``--batch-size`` -> ``batch_size``)."""
    name = name or flag.lstrip("-").replace("-", "_")
    p.add_argument(flag, type=_arg(function, name), default=default, metavar=metavar,
                   help=help)


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


def _plural(n: int, word: str) -> str:
    """``1 epoch``, ``2 epochs``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def _spread(med: float, lo: float, hi: float, n: int) -> str:
    """A median over seeds and its 10–90 % band: ``0.0614 [0.05, 0.08]`` (one seed: the
    value)."""
    return _fmt(med) if n == 1 else f"{_fmt(med)} [{_fmt(lo)}, {_fmt(hi)}]"


def _where(args: argparse.Namespace, trainings: int) -> str:
    """Where a sweep of this many trainings runs (never more jobs side by side than
    trainings, as the runner does)."""
    if getattr(args, "scheduler", None):
        return f"on the Dask cluster at {args.scheduler}"
    from . import experiments as ex

    n = min(args.jobs or ex.default_jobs(), trainings)
    return f"{_plural(n, 'job')} side by side on this machine"


def _sweep_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {"n_jobs": args.jobs, "scheduler": args.scheduler, "force": args.force,
            "progress": True}


def _interrupted(exc: Any, args: argparse.Namespace) -> int:
    where = f" and kept in {args.out}; run the same command again to resume" \
        if getattr(args, "out", None) is not None else ""
    print(f"\ngradcore {args.command}: interrupted: {exc.finished} of {exc.total} trainings "
          f"finished{where}", file=sys.stderr)
    return EXIT_INTERRUPTED


def _report_failures(failures: Sequence[Any]) -> None:
    if failures:
        print(f"\n{_plural(len(failures), 'training')} diverged:")
        for r in failures:
            print(f"  {r.job.label()}: {_one_line(r.error)}")


def _cmd_chapter5(args: argparse.Namespace) -> int:
    from . import experiments as ex

    hidden = ex.CHAPTER5_HIDDEN
    seeds = list(range(args.seed, args.seed + args.seeds))
    remedy = _remedy(args, ex.chapter5_sizes(hidden[0]))
    for k in hidden[1:]:
        _remedy(args, ex.chapter5_sizes(k))
    print(f"gradcore {__version__} chapter5: the first 1,000 MNIST training images "
          f"(embedded), nets {', '.join(_sizes_str(ex.chapter5_sizes(k)) for k in hidden)}, "
          f"{_plural(len(seeds), 'seed')} ({_seed_range(seeds)}){_remedy_str(remedy)}")
    print(f"{_plural(args.epochs, 'epoch')} of full-batch gradient descent each (m = 1000, "
          f"eta = 0.1, lambda = 5.0); {_plural(len(hidden) * len(seeds), 'training')}, "
          f"{_where(args, len(hidden) * len(seeds))}", flush=True)
    t0 = time.perf_counter()
    result = ex.chapter5(args.out, seeds=args.seeds, seed=args.seed, epochs=args.epochs,
                         figures=not args.no_figures, formats=args.format, remedy=remedy,
                         **_sweep_kwargs(args))
    _print_initial_table(result, len(seeds))
    _print_training_table(result)
    _report_failures(result.failures)
    _print_written(result.paths, args.out)
    print(f"Done in {time.perf_counter() - t0:.1f} s.")
    return EXIT_OK


def _seed_range(seeds: Sequence[int]) -> str:
    return str(seeds[0]) if len(seeds) == 1 else f"{seeds[0]}..{seeds[-1]}"


def _print_initial_table(result: Any, n_seeds: int) -> None:
    print()
    what = "" if n_seeds == 1 else f", median [10th, 90th percentile] over {n_seeds} seeds"
    print(f"Initial speed of learning ||delta^l|| (fresh default initialisation{what})")
    width = 11 if n_seeds == 1 else 30
    print(f"{'net':<28}{'layer':<11}{'gradcore':>{width}}{'book':>9}")
    prev = None
    for k, name, med, lo, hi, book in result.initial_table():
        net = _sizes_str(result.nets[k].sizes) if k != prev else ""
        prev = k
        print(f"{net:<28}{name.replace('_', ' '):<11}"
              f"{_spread(med, lo, hi, n_seeds):>{width}}"
              f"{('-' if book is None else f'{book:g}'):>9}")


def _print_training_table(result: Any) -> None:
    print()
    print("Speed of learning of the hidden layers during training (median over seeds, "
          "before the first and the last update)")
    kmax = max(result.nets)
    head = "".join(f"{'hidden ' + str(j + 1):>11}" for j in range(kmax))
    print(f"{'net':<28}{'epoch':>6}{head}{'last/first':>12}")
    for net in result.nets.values():
        speeds = net.speeds
        if not len(speeds):
            continue
        med = np.median(speeds, axis=0)
        ratio = np.median(speeds[:, :, net.hidden - 1] / speeds[:, :, 0], axis=0)
        for i, e in enumerate(sorted({0, speeds.shape[1] - 1})):
            row = med[e, :-1]
            cells = "".join(f"{_fmt(v):>11}" for v in row) + " " * 11 * (kmax - len(row))
            label = _sizes_str(net.sizes) if i == 0 else ""
            print(f"{label:<28}{e:>6}{cells}{ratio[e]:>11.1f}x")
    print("(the book: every speed falls fast at first, and the first hidden layer stays "
          "far slower than the last, ~100x with 4 hidden layers)")


def _print_written(paths: dict[str, pathlib.Path], out: pathlib.Path | None) -> None:
    print()
    if paths:
        print(f"Wrote to {out}{os.sep}:")
        width = max(len(d) for d in paths)
        for desc, path in paths.items():
            print(f"  {desc:<{width}}  {path}")


# ------------------------------------------------------------------ train


def _cmd_train(args: argparse.Namespace) -> int:
    from . import experiments as ex

    sizes = args.sizes
    remedy = _remedy(args, sizes)
    print(f"gradcore {__version__} train: {_sizes_str(sizes)}, {_plural(args.epochs, 'epoch')}, "
          f"m = {args.batch_size}, eta = {args.eta:g}, lambda = {args.lmbda:g}, "
          f"seed {'fresh' if args.seed is None else args.seed}{_remedy_str(remedy)}")
    data = _load(args.data)
    print(f"MNIST: training {len(data.training[1])}, validation {len(data.validation[1])}, "
          f"test {len(data.test[1])} images", flush=True)
    bar = _progress_bar(args.epochs, "training")
    try:
        run = ex.train_mnist(sizes, data, epochs=args.epochs, batch_size=args.batch_size,
                             eta=args.eta, lmbda=args.lmbda, seed=args.seed,
                             callback=_epoch_report(args, ex.layer_names(len(sizes) - 1), bar),
                             remedy=remedy)
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


def _remedy_str(remedy: dict[str, Any]) -> str:
    """The remedy in a run's heading: '' for the book's, else '; activation relu, ...'."""
    if not remedy:
        return ""
    def show(k: str, v: Any) -> str:
        name = k.replace("_", "-")
        return name if v is True else f"{name} {','.join(v) if isinstance(v, tuple) else v}"

    return "; " + ", ".join(show(k, v) for k, v in remedy.items())


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
    remedy = {}
    for s in nets:
        remedy = _remedy(args, s)
    print(f"gradcore {__version__} depth: {len(nets)} nets x {_plural(args.seeds, 'seed')} x "
          f"{_plural(args.epochs, 'epoch')} (m = 10, eta = 0.1, lambda = 5.0), "
          f"{_where(args, len(nets) * args.seeds)}{_remedy_str(remedy)}")
    data = _load(args.data)
    res = ex.depth(data, epochs=args.epochs, seeds=args.seeds, out_dir=args.out,
                   figures=not args.no_figures, formats=args.format, remedy=remedy,
                   **_sweep_kwargs(args))
    print()
    sd_note = "" if args.seeds > 1 else " (one seed: no sd)"
    print(f"Validation accuracy, mean +/- sd over {_plural(len(res.seeds), 'seed')}{sd_note}: "
          f"after the last epoch (epoch {res.epochs}) and at the best epoch of each run")
    print(f"{'net':<28}{'last epoch':>18}{'best epoch':>18}{'book':>10}")
    for s, (m, sd), (bm, bsd), book in zip(res.sizes, zip(*res.last()), zip(*res.best()),
                                          res.book):
        print(f"{_sizes_str(s):<28}{_pm(m, sd):>18}{_pm(bm, bsd):>18}"
              f"{('-' if book is None else f'{book:.2f} %'):>10}")
    _report_failures([r for row in res.results for r in row if not r.ok])
    print("(the book, one run each, its last epoch: deeper nets do not help, although they "
          "could at least learn what the shallower ones do)")
    _print_written(res.paths, args.out)
    return EXIT_OK


def _pm(mean: float, sd: float) -> str:
    return f"{mean:.2f} %" if not np.isfinite(sd) else f"{mean:.2f} +/- {sd:.2f} %"


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
    print(f"gradcore {__version__} chain: one sigmoid neuron per layer, "
          f"{_plural(args.depth, 'layer')}, input x = 1, quadratic cost with target 0")
    print("dC/db1 = sigma'(z1) * w2 sigma'(z2) * ... * wd sigma'(zd) * dC/dad\n")
    _print_chain(f"Exploding gradient: every w = {args.weight:g}, biases chosen so every "
                 f"z = 0 (sigma'(0) = 1/4), so every factor w*sigma'(z) = "
                 f"{args.weight / 4:g}", res.exploding)
    w = abs(args.weight)
    if w > 4:
        print(f"But only a narrow band of inputs keeps the factor that large: "
              f"|w*sigma'(w*a + b)| >= 1 for inputs a in an interval of width "
              f"(2/|w|) ln(|w|(1 + sqrt(1 - 4/|w|))/2 - 1) = {res.window:.4g} "
              f"(|w| = {w:g})")
    else:
        print(f"|w*sigma'(w*a + b)| <= |w|/4 = {w / 4:g}: below 1 for every input a "
              f"(|w| = {w:g} <= 4)")
    print()
    _print_chain(f"Vanishing gradient: w and b ~ N(0, 1) (seed {args.seed}); "
                 f"|w*sigma'(z)| <= |w|/4, below 1/4 whenever |w| < 1", res.vanishing)
    return EXIT_OK


# ------------------------------------------------------------------ phase


def _cmd_phase(args: argparse.Namespace) -> int:
    from . import experiments as ex

    n = len(args.depths) * len(args.scales) * args.seeds
    remedy = {}
    for d in args.depths:
        remedy = _remedy(args, ex.chapter5_sizes(d))
    after = "" if args.epochs == 0 else \
        f" and after {_plural(args.epochs, 'epoch')} of full-batch gradient descent"
    print(f"gradcore {__version__} phase: hidden layers {_list(args.depths)} x weight scales "
          f"{_list(args.scales)} x {_plural(args.seeds, 'seed')}: the speed of every layer "
          f"at initialisation{after}, on the first 1,000 MNIST training images; "
          f"{_plural(n, 'job')}, {_where(args, n)}{_remedy_str(remedy)}", flush=True)
    t0 = time.perf_counter()
    res = ex.phase(args.depths, args.scales, seeds=args.seeds, epochs=args.epochs,
                   out_dir=args.out, figures=not args.no_figures, formats=args.format,
                   remedy=remedy, **_sweep_kwargs(args))
    for e in res.measured_epochs:
        when = "at initialisation" if e == 0 else f"after {_plural(e, 'epoch')}"
        print(f"\nlog10(speed of hidden 1 / speed of the last hidden layer), {when}, median "
              f"over {_plural(len(res.seeds), 'seed')} (< 0: vanishing, > 0: exploding)")
        print(f"{'hidden':>6}" + "".join(f"{'s=' + f'{s:g}':>8}" for s in res.scales))
        for d, row in zip(res.depths, res.log_ratio(e)):
            print(f"{d:>6}" + "".join(f"{v:>8.2f}" for v in row))
    _report_failures(res.failures)
    _print_written(res.paths, args.out)
    print(f"Done in {time.perf_counter() - t0:.1f} s.")
    return EXIT_OK


def _list(values: Sequence[float]) -> str:
    return ",".join(f"{v:g}" for v in values)


# ------------------------------------------------------------------ saturation


def _cmd_saturation(args: argparse.Namespace) -> int:
    from . import experiments as ex
    from .experiments.saturation import NORMALIZED, STANDARD, hidden_layers, quarter_circle_mean

    width = 1000 if args.paper and args.width is None else (args.width or 300)
    data = _load(args.data) if (args.paper or args.data is not None) else None
    acts = args.activations
    nets = ", ".join(f"{a} [784, {width}x{hidden_layers(a)}, 10]" for a in acts)
    print(f"gradcore {__version__} saturation: Glorot & Bengio (2010) on MNIST (they used "
          f"their Shapeset-3x2 images); {nets}; softmax and log-likelihood, biases 0, "
          f"their standard init U[+-1/sqrt(n_in)]; {_plural(args.seeds, 'seed')}, "
          f"{args.updates} updates of m = 10, eta = {args.eta:g}")
    if not args.paper:
        print("Smaller than the paper (--paper): hidden layers of "
              f"{width} instead of 1,000, and "
              + ("the embedded first 1,000 MNIST images (700 to train, 300 to probe)"
                 if data is None else "the full MNIST training set") + ".")
    n = len(acts) * args.seeds + 2 * args.seeds
    print(f"{_plural(n, 'job')}, {_where(args, n)}", flush=True)
    t0 = time.perf_counter()
    res = ex.saturation(args.out, activations=acts, width=width, seeds=args.seeds,
                        updates=args.updates, eta=args.eta, probe_every=args.probe_every,
                        jacobian_examples=args.jacobian_examples, data=data,
                        figures=not args.no_figures, formats=args.format,
                        **_sweep_kwargs(args))
    print(f"\nOn {res.settings['data']}.")
    print("Mean activation per hidden layer (seed median) at update 0, ~250 and the last:")
    last = res.settings["updates"]
    for a in acts:
        for u in (0, 250, last):
            row = res.at(a, "mean", u)
            print(f"  {a:<9}{'update ' + str(u):>13}: "
                  + "  ".join(f"{v:6.3f}" for v in row))
        print(f"  {a:<9}{'98th pct.':>13}: "
              + "  ".join(f"{v:6.3f}" for v in res.at(a, "p98", last)))
    print("\nMean singular value of the layer Jacobians W(l+1) diag(tanh'(z_l)), tanh, at "
          "initialisation (median over seeds, per layer):")
    for init, paper, qc in ((STANDARD, 0.5, quarter_circle_mean(1 / 3)),
                            (NORMALIZED, 0.8, quarter_circle_mean(1.0))):
        mid = res.layer_jacobian(init)[0]
        print(f"  {init:<16}" + "  ".join(f"{v:.3f}" for v in mid)
              + f"   mean {res.mean_singular_value(init):.3f}  (paper: about {paper}; "
                f"random-matrix bound {qc:.3f})")
    print("Std of the back-propagated gradients per hidden layer at initialisation (seed "
          f"{res.settings['seeds'][0]}):")
    for init, std in res.histograms["gradient_std"].items():
        print(f"  {init:<16}" + "  ".join(f"{v:.3g}" for v in std))
    _report_failures(res.failures)
    _print_written(res.paths, args.out)
    print(f"Done in {time.perf_counter() - t0:.1f} s.")
    return EXIT_OK


# ------------------------------------------------------------------ isometry


def _cmd_isometry(args: argparse.Namespace) -> int:
    from . import experiments as ex
    from .experiments.isometry import WEIGHTS

    if args.large:
        depths, widths = [1, 2, 5, 10, 20, 50, 100, 200], [100, 200, 400]
    else:
        depths, widths = args.depths, args.widths
    bias = None if args.bias_var is None else {a: args.bias_var for a in args.activations}
    n = len(args.activations) * len(WEIGHTS) * len(depths) * len(widths) * args.seeds
    print(f"gradcore {__version__} isometry: singular values of the input-output Jacobian at "
          f"initialisation (Saxe et al. 2014; Pennington et al. 2017), "
          f"{', '.join(args.activations)} at their critical points, Gaussian and orthogonal "
          f"weights, depths {_list(depths)}, widths {_list(widths)}, "
          f"{_plural(args.seeds, 'seed')}; {_plural(n, 'net')}, {_where(args, n)}",
          flush=True)
    t0 = time.perf_counter()
    try:
        res = ex.isometry(args.out, activations=args.activations, depths=depths,
                          widths=widths, seeds=args.seeds, examples=args.examples,
                          bias_var=bias, figures=not args.no_figures, formats=args.format,
                          **_sweep_kwargs(args))
    except ValueError as exc:  # checked before any net is drawn: the arguments' fault
        raise _BadArguments(str(exc)) from None
    s = res.settings
    width = widths[-1]
    print(f"\nSpread var(sigma^2)/mean(sigma^2)^2 of the Jacobian's spectrum, width {width}, "
          f"median over seeds (free-probability prediction L (v_W + v_D) in brackets); 0 "
          f"is an isometry:")
    print(f"{'':<22}" + "".join(f"{'L=' + str(d):>17}" for d in depths))
    for a in s["activations"]:
        for w in WEIGHTS:
            mid = res.spread_band(a, w, width)[0]
            pred = res.predicted(a, w)
            print(f"{a + ', ' + w:<22}"
                  + "".join(f"{f'{m:.3g} [{p:.3g}]':>17}" for m, p in zip(mid, pred)))
    print("(bias variance, critical weight variance, q*: "
          + "; ".join(f"{a} {s['bias_var'][a]:g}, {s['weight_var'][a]:.4g}, "
                      f"{s['q_star'][a]:.3g}" for a in s["activations"]) + ")")
    _print_written(res.paths, args.out)
    print(f"Done in {time.perf_counter() - t0:.1f} s.")
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

    _add_chapter5(sub)
    _add_train(sub)
    _add_depth(sub)
    _add_chain(sub)
    _add_phase(sub)
    _add_saturation(sub)
    _add_isometry(sub)
    _add_download(sub)
    _add_dashboard(sub)
    p.subcommands = dict(sub.choices)  # type: ignore[attr-defined]
    return p


def _add_train(sub: Any) -> None:
    """The ``train`` subcommand."""
    t = _subcommand(
        sub, "train", _cmd_train, "train one net on full MNIST",
        "Train on the 50,000 MNIST training images with mini-batch SGD and L2 "
        "weight decay, reporting validation accuracy, cost and learning speeds "
        "after every epoch and the test accuracy at the end. Ctrl-C stops "
        "(status 130) and keeps the network (saved with --save).")
    f = "experiments.train_mnist"
    _option(t, "--sizes", f, (784, 30, 30, 10), "layer sizes, comma-separated (default: "
            "784,30,30,10)", "LIST")
    _option(t, "--epochs", f, 30, "epochs (default: %(default)s)", "N")
    _option(t, "--batch-size", f, 10, "mini-batch size (default: %(default)s)", "M")
    _option(t, "--eta", f, 0.1, "learning rate (default: %(default)s)")
    _option(t, "--lmbda", f, 5.0, "L2 regularisation strength lambda (default: %(default)s)")
    _data_arg(t)
    _option(t, "--seed", f, None, "random seed (default: fresh entropy)", "N")
    t.add_argument("--save", type=_file_to_write, default=None, metavar="FILE",
                   help="write the trained network to FILE (JSON)")
    _remedy_args(t)


def _add_download(sub: Any) -> None:
    """The ``download`` subcommand."""
    dl = _subcommand(
        sub, "download", _cmd_download, "download the four MNIST files",
        "Download the MNIST IDX files missing from DIR (default: the user "
        "cache, where 'gradcore train' and 'gradcore depth' look), each "
        "verified against its published checksum.")
    dl.add_argument("--dir", type=_dir_to_create, default=None, metavar="DIR",
                    help="destination folder (default: the user cache)")


def _add_dashboard(sub: Any) -> None:
    """The ``dashboard`` subcommand."""
    db = _subcommand(
        sub, "dashboard", _cmd_dashboard,
        "watch each layer's speed of learning live in the browser",
        "Serve a live dashboard (Bokeh) that trains a net on the embedded 1,000 "
        "MNIST images and plots each layer's speed of learning as it trains, "
        "and open it in the browser. Serves until Ctrl-C (status 130).")
    _option(db, "--port", "dashboard.main", 5006,
            "port to listen on, 0 for a free one (default: %(default)s)")
    db.add_argument("--host", default="127.0.0.1",
                    help="address to listen on (default: %(default)s); any other than a "
                         "loopback address lets anyone who can reach the port use the CPU")
    db.add_argument("--no-browser", action="store_true",
                    help="print the page's address but do not open a browser")


def _add_chapter5(sub: Any) -> None:
    """The ``chapter5`` subcommand."""
    c = _subcommand(
        sub, "chapter5", _cmd_chapter5,
        "reproduce the chapter's learning-speed experiments (offline)",
        "For 2, 3 and 4 hidden layers of 30 neurons on the embedded first "
        "1,000 MNIST training images: the initial learning speed of every layer "
        "beside the book's, then full-batch gradient descent (m = 1000, "
        "eta = 0.1, lambda = 5.0) recording the speeds before each epoch's "
        "update, for K seeds (median and 10-90 % band). Writes "
        "speeds_{2,3,4}_hidden.csv, chapter5.json and PNG figures to the "
        "output folder; each finished training is kept there, so a run "
        "stopped with Ctrl-C resumes when run again.")
    _option(c, "--seed", "experiments.chapter5", 0, "the first seed (default: %(default)s)",
            "N")
    _epochs_and_seeds(c, "experiments.chapter5", 500, "epochs of gradient descent", 1,
                      "train every net with seeds N..N+K-1 (default: %(default)s, the "
                      "book's single run)")
    _out_args(c, "gradcore-chapter5", "experiments.chapter5")
    _sweep_args(c)
    _remedy_args(c)


def _add_depth(sub: Any) -> None:
    """The ``depth`` subcommand."""
    d = _subcommand(
        sub, "depth", _cmd_depth, "validation accuracy against depth on full MNIST",
        "Train [784,30,10] ... [784,30,30,30,30,10] (m = 10, eta = 0.1, "
        "lambda = 5.0) with K seeds each, all side by side, and tabulate the "
        "validation accuracy after the last epoch and at the best epoch, mean "
        "+/- sd over seeds, beside the book's 96.48, 96.90, 96.57, 96.53 % "
        "(one run each).")
    _data_arg(d)
    _epochs_and_seeds(d, "experiments.depth", 30, "epochs per net", 1,
                      "train every net with seeds 0..K-1 (default: %(default)s)")
    d.add_argument("--out", type=_dir_to_create, default=None, metavar="DIR",
                   help="keep each finished training in DIR, so that a run stopped with "
                        "Ctrl-C resumes, and write depth.csv, depth.json and the figure "
                        "depth.png there (default: keep nothing)")
    _figure_args(d, "experiments.depth")
    _sweep_args(d)
    _remedy_args(d)


def _add_chain(sub: Any) -> None:
    """The ``chain`` subcommand."""
    ch = _subcommand(
        sub, "chain", _cmd_chain,
        "the exploding and vanishing gradient of a one-neuron-per-layer chain",
        "A chain of one sigmoid neuron per layer. Exploding: every weight is "
        "--weight and the biases make every z = 0, so each factor "
        "w*sigma'(z) = weight/4 and dC/db grows by it per layer backwards. "
        "It also prints the width of the interval of inputs a for which "
        "|w*sigma'(w*a + b)| >= 1 (the chapter's formula, |w| > 4). "
        "Vanishing: weights and biases ~ N(0, 1).")
    f = "experiments.chain"
    _option(ch, "--depth", f, 4, "neurons in the chain, 1..100 (default: %(default)s)", "D")
    _option(ch, "--weight", f, 100.0, "the weight of the exploding chain (default: "
            "%(default)g)", "W")
    _option(ch, "--seed", f, 0, "seed of the vanishing chain (default: %(default)s)", "N")


def _add_phase(sub: Any) -> None:
    """The ``phase`` subcommand."""
    ph = _subcommand(
        sub, "phase", _cmd_phase, "the unstable gradient as a phase diagram: depth x weight scale",
        "For every number of hidden layers (30 neurons each), weight scale s "
        "(weights ~ N(0, s^2/n_in)) and seed: the speed of learning of every "
        "layer on the embedded 1,000 MNIST images at initialisation, and after "
        "T epochs of full-batch gradient descent (m = 1000, eta = 0.1, "
        "lambda = 5.0) if T > 0. Prints the median log10(speed of hidden 1 / "
        "speed of the last hidden layer) and writes phase.csv (tidy: depth, "
        "scale, seed, epoch, layer, speed), phase.json and the heat map "
        "phase.png.")
    _option(ph, "--depths", "experiments.phase", list(range(1, 11)),
            "numbers of hidden layers, comma-separated (default: 1,2,...,10)", "LIST")
    _option(ph, "--scales", "experiments.phase", [2.0 ** e for e in range(-2, 6)],
            "weight scales s, comma-separated (default: 0.25,0.5,1,2,4,8,16,32)", "LIST")
    _epochs_and_seeds(ph, "experiments.phase", 0, "also measure after T epochs of training (0: at "
                          "initialisation only)", 5,
                      "seeds 0..K-1 per depth and scale (default: %(default)s)", epochs_name="T")
    _out_args(ph, "gradcore-phase", "experiments.phase")
    _sweep_args(ph)
    _remedy_args(ph, init_help="the family whose scale s is the axis: gaussian (default: "
                               "weights N(0, s^2/n_in)) or orthogonal (gain s)")


def _add_saturation(sub: Any) -> None:
    """The ``saturation`` subcommand."""
    sa = _subcommand(
        sub, "saturation", _cmd_saturation,
        "Glorot & Bengio 2010: saturating activations and the layers' Jacobians",
        "Glorot & Bengio (2010) on MNIST: sigmoid, tanh and softsign nets (4, 5 and 5 "
        "hidden layers) trained with their standard init, softmax and log-likelihood, "
        "m = 10; the mean, std and 2nd/98th percentiles of every hidden layer's "
        "activations on 300 fixed probe images every K updates (their Figures 2-3); "
        "histograms of activations and back-propagated gradients at initialisation, "
        "standard against normalized init (Figures 6-7); and the mean singular value of "
        "each layer Jacobian, tanh (they report about 0.5 and 0.8). The default is "
        "smaller (hidden layers of 300, the embedded 1,000 images) and runs in a few "
        "minutes; --paper is their size (hidden layers of 1,000) on full MNIST.")
    f = "experiments.saturation"
    sa.add_argument("--paper", action="store_true",
                    help="their set-up: hidden layers of 1,000 on full MNIST (--data)")
    _option(sa, "--width", f, None, "units per hidden layer (default: 300; 1000 with "
            "--paper)", "N")
    _option(sa, "--activations", f, ["sigmoid", "tanh", "softsign"],
            "comma-separated (default: sigmoid,tanh,softsign)", "LIST")
    _option(sa, "--updates", f, 3000, "mini-batch updates, rounded up to whole epochs "
            "(default: %(default)s)", "N")
    _option(sa, "--eta", f, 0.1, "learning rate (default: %(default)s)")
    _option(sa, "--probe-every", f, 50, "updates between probe records (default: "
            "%(default)s)", "K")
    _option(sa, "--jacobian-examples", f, 10, "probe images at which the layer Jacobians "
            "are taken (default: %(default)s)", "N")
    _option(sa, "--seeds", f, 3, "seeds 0..K-1 (default: %(default)s)", "K")
    _data_arg(sa)
    _out_args(sa, "gradcore-saturation", f)
    _sweep_args(sa)


def _add_isometry(sub: Any) -> None:
    """The ``isometry`` subcommand."""
    iso = _subcommand(
        sub, "isometry", _cmd_isometry,
        "dynamical isometry: the Jacobian's singular values, Gaussian vs orthogonal weights",
        "Singular values of the input-output Jacobian of deep nets at initialisation "
        "(Saxe et al. 2014; Pennington, Schoenholz & Ganguli 2017), each activation at "
        "its critical point, Gaussian against orthogonal weights, over depths and "
        "widths: their spread var(sigma^2)/mean(sigma^2)^2 beside free probability's "
        "L (v_W + v_D). Linear nets with orthogonal weights are exactly isometric; ReLU "
        "nets never are; tanh nets nearly, with orthogonal weights only. --large is "
        "the papers' range (depths to 200, widths 100-400): about an hour on two cores, "
        "or a job for a Dask cluster (--scheduler).")
    f = "experiments.isometry"
    _option(iso, "--activations", f, ["linear", "relu", "tanh"],
            "comma-separated (default: linear,relu,tanh)", "LIST")
    _option(iso, "--depths", f, [1, 2, 4, 8, 16, 32, 64],
            "hidden layers, comma-separated (default: 1,2,4,...,64)", "LIST")
    _option(iso, "--widths", f, [100], "units per layer, comma-separated (default: 100)",
            "LIST")
    iso.add_argument("--large", action="store_true",
                     help="depths 1,2,5,10,20,50,100,200 and widths 100,200,400")
    iso.add_argument("--bias-var", type=_real, default=None, metavar="V",
                     help="bias variance of every activation (default: 0 for linear and "
                          "the ReLUs, which are critical only without biases; 0.001 else)")
    _option(iso, "--examples", f, 1, "inputs per net (default: %(default)s)", "N")
    _option(iso, "--seeds", f, 3, "seeds 0..K-1 (default: %(default)s)", "K")
    _out_args(iso, "gradcore-isometry", f)
    _sweep_args(iso)


def _epochs_and_seeds(p: argparse.ArgumentParser, function: str, epochs: int,
                      epochs_help: str, seeds: int, seeds_help: str, *,
                      epochs_name: str = "N") -> None:
    """--epochs and --seeds, checked by the constraints of ``function``."""
    _option(p, "--epochs", function, epochs, f"{epochs_help} (default: %(default)s)",
            epochs_name)
    _option(p, "--seeds", function, seeds, seeds_help, "K")


def _out_args(p: argparse.ArgumentParser, default: str, function: str) -> None:
    p.add_argument("--out", type=_dir_to_create, default=pathlib.Path(default),
                   metavar="DIR", help=f"output folder, created if needed (default: "
                                       f"./{default})")
    _figure_args(p, function)


def _figure_args(p: argparse.ArgumentParser, function: str) -> None:
    """--no-figures and --format, checked by the constraint of ``function``."""
    p.add_argument("--no-figures", action="store_true", help="write CSV and JSON only")
    _option(p, "--format", function, ["png"],
            "comma-separated: the figures as png, svg and/or pdf (default: png), and "
            "parquet to add the results as a tidy Parquet table (needs gradcore[pandas])",
            "LIST", name="formats")


def _sweep_args(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group()
    _option(where, "--jobs", "experiments.run_jobs", None,
            "trainings side by side on this machine, each on one core (default: one per "
            "core; 1: one after the other)", "N", name="n_jobs")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="run the trainings on the Dask cluster whose scheduler is at "
                            "ADDRESS, e.g. tcp://10.0.0.5:8786 (needs gradcore[dask])")
    p.add_argument("--force", action="store_true",
                   help="replace results of other settings found in the output folder "
                        "(without it, such a folder is refused)")


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
    from .experiments import SettingsMismatch, SweepInterrupted

    prog = f"gradcore {args.command}"
    try:
        return int(args.func(args))
    except _BadArguments as exc:
        print(f"{prog}: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except SettingsMismatch as exc:  # e.g. --out holds other settings
        print(f"{prog}: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except SweepInterrupted as exc:  # Ctrl-C in a sweep: what was finished, and kept
        return _interrupted(exc, args)
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
