"""The ``gradcore`` command line: chapter 5 of "Neural Networks and Deep Learning".

Subcommands (each a thin layer over a function of :mod:`gradcore.experiments`):

* ``gradcore chapter5`` -- initial speeds and speeds during training, offline, with
  CSV/JSON/PNG output;
* ``gradcore train`` -- train one net on full MNIST;
* ``gradcore depth`` -- validation accuracy against depth;
* ``gradcore chain`` -- the exploding and the vanishing one-neuron-per-layer chain;
* ``gradcore phase`` -- the unstable gradient as a phase diagram, depth x weight scale or
  variance, with the mean-field theory drawn over it; ``--trainability``: test accuracy
  over weight variance x depth beside the trainable depth 6 xi_c;
* ``gradcore predict`` -- the theory's per-layer gradient ratio beside the measured ones;
* ``gradcore remedies`` -- the chapter's net under every named remedy, ranked;
* ``gradcore momentum`` -- SGD, momentum and Nesterov from sparse and Gaussian inits;
* ``gradcore saturation`` -- Glorot & Bengio's saturation and Jacobians, per layer;
* ``gradcore isometry`` -- the input-output Jacobian's spectrum against depth;
* ``gradcore download`` -- fetch the MNIST files;
* ``gradcore dashboard`` -- the live dashboard in the browser (the ``dashboard`` extra).

Exit status: 0 on success; 2 for a bad argument (one line on stderr, before anything
runs); 1 when a run fails (divergence, a download, a damaged data file, the disk, memory,
a Dask scheduler lost; one line on stderr, three short ones for a download); 130 after
Ctrl-C; 141 when the reader of the output goes away (``gradcore chain | head``), quietly.
Anything else is a bug in gradcore and shows its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import pathlib
import re
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
    """An ArgumentParser whose errors are one line on stderr (no usage block), status 2,
    and that takes ``-1e308`` for a number, as it takes ``-1`` and ``-0.5``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(
            r"^-(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")

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
        "SGD (see 'gradcore remedies' and the docs' remedies page)")
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
    if p.is_symlink() and not p.exists():
        raise argparse.ArgumentTypeError(f"is a symbolic link to nothing (its target is "
                                         f"missing, or a loop of links): {text}")
    return p


def _scheduler(text: str) -> str:
    """A Dask scheduler address, checked before anything runs."""
    from .experiments.dask_backend import check_address

    try:
        return check_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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


def _cause(exc: BaseException, kind: type[BaseException]) -> Any:
    """The exception of ``kind`` that ``exc`` interrupted (its context, or theirs), if any."""
    seen: BaseException | None = exc.__context__
    while seen is not None and not isinstance(seen, kind):
        seen = seen.__context__
    return seen


def _report_failures(failures: Sequence[Any]) -> None:
    if failures:
        print(f"\n{_plural(len(failures), 'training')} diverged:")
        for r in failures:
            print(f"  {r.job.label()}: {_one_line(r.error)}")


def _cmd_chapter5(args: argparse.Namespace) -> int:
    from . import experiments as ex

    hidden = ex.CHAPTER5_HIDDEN
    ex.check_sweep_size(len(hidden) * args.seeds)
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
    n_seeds = len(next(iter(result.nets.values())).seeds)
    if n_seeds == 1:
        print("Speed of learning of the hidden layers during training (before the first and "
              "the last update);\nlast/first: the last hidden layer's speed / the first's; "
              "theory: mean-field theory's last/first of the initial net")
    else:
        print(f"Speed of learning of the hidden layers during training (median over "
              f"{n_seeds} seeds, before the first and the last update);\nlast/first: the "
              f"last hidden layer's speed / the first's, median over seeds of each seed's "
              f"ratio (not the ratio of the medians shown);\ntheory: mean-field theory's "
              f"last/first of each seed's initial net, median over seeds")
    kmax = max(result.nets)
    head = "".join(f"{'hidden ' + str(j + 1):>11}" for j in range(kmax))
    print(f"{'net':<28}{'epoch':>6}{head}{'last/first':>12}{'theory':>10}")
    for net in result.nets.values():
        speeds = net.speeds
        if not len(speeds):
            continue
        med = np.median(speeds, axis=0)
        ratio = np.median(net.ratio(), axis=0)
        theory = _theory_ratio(net)
        for i, e in enumerate(sorted({0, speeds.shape[1] - 1})):
            row = med[e, :-1]
            cells = "".join(f"{_fmt(v):>11}" for v in row) + " " * 11 * (kmax - len(row))
            label = _sizes_str(net.sizes) if i == 0 else ""
            pred = f"{theory:>9.1f}x" if e == 0 and theory is not None else f"{'-':>10}"
            print(f"{label:<28}{e:>6}{cells}{ratio[e]:>11.1f}x{pred}")
    print("(the book: every speed falls fast at first, and the first hidden layer stays "
          "far slower than the last, ~100x with 4 hidden layers; the theory holds at "
          "initialisation only)")


def _theory_ratio(net: Any) -> float | None:
    """Mean-field theory's last/first hidden-layer ratio at initialisation: 1 / the
    product of :func:`gradcore.theory.predicted_ratios` of each seed's initial network,
    the median over seeds (None for one hidden layer, or where the theory has no fixed
    point)."""
    from .theory import predicted_ratios

    if net.hidden < 2:
        return None
    try:
        prods = [float(np.prod(predicted_ratios(r.job.network()))) for r in net.results]
    except ValueError:
        return None
    return float(np.median(1.0 / np.array(prods)))


def _print_written(paths: dict[str, pathlib.Path], out: pathlib.Path | None) -> None:
    print()
    if paths:
        print(f"Wrote to {out}{os.sep}:")
        width = max(len(d) for d in paths)
        for desc, path in paths.items():
            print(f"  {desc:<{width}}  {path}")


# ------------------------------------------------------------------ train


class _KeptOutput(io.TextIOBase):
    """A stream that passes writes on to ``stream`` until one fails (the reader went away,
    the disk is full), and from then on drops them, keeping the first error: what the
    command prints must never cost what it computes."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.error: OSError | None = None

    def write(self, text: str) -> int:
        if self.error is None:
            try:
                self.stream.write(text)
            except OSError as exc:
                self.error = exc
        return len(text)

    def flush(self) -> None:
        if self.error is None:
            try:
                self.stream.flush()
            except OSError as exc:
                self.error = exc


def _cmd_train(args: argparse.Namespace) -> int:
    """``train``, its output kept apart: a closed or full stdout never loses the network."""
    out = _KeptOutput(sys.stdout)
    with contextlib.redirect_stdout(out):
        status = _train(args)
        out.flush()
    if out.error is None:
        return status
    if isinstance(out.error, BrokenPipeError):
        raise out.error  # the reader went away: quietly, status 141 (main)
    raise _RunFailed(f"could not write the output ({out.error.strerror or out.error}); "
                     f"the run itself completed" + (f" and the network was saved to "
                                                    f"{args.save}" if args.save else ""))


def _train(args: argparse.Namespace) -> int:
    from . import experiments as ex

    sizes = args.sizes
    remedy = _remedy(args, sizes)
    print(f"gradcore {__version__} train: {_sizes_str(sizes)}, {_plural(args.epochs, 'epoch')}, "
          f"m = {args.batch_size}, eta = {args.eta:g}, lambda = {args.lmbda:g}, "
          f"seed {'fresh' if args.seed is None else args.seed}{_remedy_str(remedy)}")
    data = _load(args.data)
    print(f"MNIST: training {len(data.training[1])}, validation {len(data.validation[1])}, "
          f"test {len(data.test[1])} images")
    print(_train_legend(len(data.training[1]), len(data.validation[1]), args.batch_size,
                        args.lmbda), flush=True)
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
        _save(run.network, args.save, sys.stdout if _stdout_ok() else sys.stderr)
    return EXIT_OK


def _train_legend(n_train: int, n_validation: int, batch_size: int, lmbda: float) -> str:
    """What the epoch lines' speeds and validation cost are, in a few lines."""
    batches = -(-n_train // batch_size)
    if batches > 1:
        speeds = (f"(speeds: each layer's ||mean delta||, averaged over the epoch's "
                  f"{batches:,} mini-batches\n as the weights move: not the chapter's speed "
                  f"at fixed weights, and the layers' order can differ")
    else:
        speeds = ("(speeds: each layer's ||mean delta|| at the weights the epoch starts "
                  "from, the chapter's speed")
    if lmbda == 0:
        return speeds + ")"
    return (f"{speeds};\n validation cost: mean cost plus the L2 term lambda/(2n)*sum(w^2), "
            f"n = {n_validation:,} validation\n images, as in the book's network2.py: it "
            f"grows with the weights and can rise with the accuracy)")


def _remedy_str(remedy: dict[str, Any]) -> str:
    """The remedy in a run's heading: '' for the book's, else '; activation relu, ...'."""
    if not remedy:
        return ""
    def show(k: str, v: Any) -> str:
        name = k.replace("_", "-")
        return name if v is True else f"{name} {','.join(v) if isinstance(v, tuple) else v}"

    return "; " + ", ".join(show(k, v) for k, v in remedy.items())


def _stdout_ok() -> bool:
    return getattr(sys.stdout, "error", None) is None


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
    ex.check_sweep_size(len(nets) * args.seeds)
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
    grows = abs(args.weight) > 4  # each factor is w/4: the chain explodes only beyond 4
    _print_chain(f"{'Exploding' if grows else 'Not exploding'} gradient: every w = "
                 f"{args.weight:g}, biases chosen so every z = 0 (sigma'(0) = 1/4), so every "
                 f"factor w*sigma'(z) = {args.weight / 4:g}"
                 f"{'' if grows else ', at most 1 in size: even here the gradient does not grow'}",
                 res.exploding)
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

    if args.trainability or args.paper:
        return _cmd_trainability(args)
    for flag in ("data", "paper"):
        if getattr(args, flag):
            raise _BadArguments(f"--{flag} goes with --trainability")
    depths = args.depths or list(ex.PHASE_DEPTHS)
    scales = args.scales if args.weight_vars is None else None
    remedy = {}
    for d in depths:
        remedy = _remedy(args, ex.chapter5_sizes(d))
    axis = _phase_axis(args, remedy, scales)
    args.seeds = args.seeds or 5
    n = len(depths) * len(axis) * args.seeds
    ex.check_sweep_size(n)
    after = "" if args.epochs == 0 else \
        f" and after {_plural(args.epochs, 'epoch')} of full-batch gradient descent"
    what = (f"weight variances {_list(axis)} (biases N(0, "
            f"{1.0 if args.bias_var is None else args.bias_var:g}))"
            if args.weight_vars is not None else f"weight scales {_list(axis)}"
            + ("" if args.bias_var is None else f" (biases N(0, {args.bias_var:g}))"))
    print(f"gradcore {__version__} phase: hidden layers {_list(depths)} x {what} x "
          f"{_plural(args.seeds, 'seed')}: the speed and the gradient rms of every layer "
          f"at initialisation{after}, on the first 1,000 MNIST training images; "
          f"{_plural(n, 'job')}, {_where(args, n)}{_remedy_str(remedy)}", flush=True)
    t0 = time.perf_counter()
    try:
        res = ex.phase(depths, scales, weight_vars=args.weight_vars, bias_var=args.bias_var,
                       seeds=args.seeds, epochs=args.epochs, out_dir=args.out,
                       figures=not args.no_figures, formats=args.format, remedy=remedy,
                       **_sweep_kwargs(args))
    except ValueError as exc:  # refused before any job ran: e.g. the memory it would need
        raise _BadArguments(str(exc)) from None
    label = "s=" if res.axis == "scale" else "w="
    for e in res.measured_epochs:
        when = "at initialisation" if e == 0 else f"after {_plural(e, 'epoch')}"
        for measure, name in (("speed", "speed"), ("rms", "gradient rms")):
            print(f"\nlog10({name} of hidden 1 / {name} of the last hidden layer), {when}, "
                  f"median over {_plural(len(res.seeds), 'seed')} (< 0: vanishing, > 0: "
                  f"exploding)")
            print(f"{'hidden':>6}" + "".join(f"{label + f'{s:g}':>8}" for s in res.scales))
            for d, row in zip(res.depths, res.log_ratio(e, measure)):
                print(f"{d:>6}" + "".join(f"{v:>8.2f}" for v in row))
    from .experiments.output import phase_overlay

    _print_theory(phase_overlay(res))
    _report_failures(res.failures)
    _print_written(res.paths, args.out)
    print(f"Done in {time.perf_counter() - t0:.1f} s.")
    return EXIT_OK


def _phase_axis(args: argparse.Namespace, remedy: dict[str, Any],
                scales: Sequence[float] | None) -> list[float]:
    """The diagram's columns, the critical grid resolved (status 2 where the activation has
    no critical point)."""
    from . import experiments as ex

    if args.weight_vars is None:
        return list(scales or ex.PHASE_SCALES)
    if args.weight_vars != "critical":
        return list(args.weight_vars)
    activation = remedy.get("activation", "sigmoid")
    if not isinstance(activation, str):
        raise _BadArguments("--weight-vars critical needs one activation for every layer")
    from .experiments.meanfield import critical_grid

    try:
        grid = critical_grid(activation, 1.0 if args.bias_var is None else args.bias_var)
    except ValueError as exc:
        raise _BadArguments(f"--weight-vars critical: {exc}") from None
    args.weight_vars = grid
    return grid


def _print_theory(overlay: dict[str, Any] | None) -> None:
    """The theory drawn over the diagram, in words."""
    if overlay is None:
        return
    crit = overlay["critical"]
    where = (f"chi1 = 1 at sigma_w^2 = {crit:.4g}" if crit is not None
             else str(overlay["note"]).split(";")[0])
    xi = ", ".join("-" if x is None else f"{x:.3g}" for x in overlay["xi_c"])
    print(f"\nMean-field theory ({overlay['activation']}, sigma_b^2 = "
          f"{overlay['bias_var']:g}): {where}; xi_c per column: {xi}")
    if crit is not None and overlay.get("note"):
        print(f"({overlay['note']})")


def _refuse_remedies(args: argparse.Namespace) -> None:
    """--trainability's nets are Gaussian(sigma_w^2, sigma_b^2) ones trained by plain SGD."""
    given = [flag for flag, on in (("--output", args.output), ("--init", args.init),
                                   ("--momentum", args.momentum), ("--nesterov", args.nesterov),
                                   ("--schedule", args.schedule),
                                   ("--clip-norm", args.clip_norm), ("--dropout", args.dropout))
             if on]
    if given:
        raise _BadArguments(f"--trainability trains Gaussian(sigma_w^2, sigma_b^2) nets by plain "
                            f"SGD (Schoenholz et al.'s set-up); it does not take "
                            f"{', '.join(given)}")


def _cmd_trainability(args: argparse.Namespace) -> int:
    from . import experiments as ex
    from .experiments.trainability import PAPER

    if args.scales is not None:
        raise _BadArguments("--trainability takes --weight-vars as its axis, not --scales")
    _refuse_remedies(args)
    paper = PAPER if args.paper else {}
    activation = args.activation or paper.get("activation", "tanh")
    if not isinstance(activation, str):
        raise _BadArguments("--trainability takes one activation for every layer")
    bias_var = args.bias_var if args.bias_var is not None else 0.05
    if args.weight_vars == "critical":
        from .experiments.meanfield import critical_grid

        try:
            args.weight_vars = critical_grid(activation, bias_var)
        except ValueError as exc:
            raise _BadArguments(f"--weight-vars critical: {exc}") from None
    wv = args.weight_vars or list(paper.get("weight_vars", ex.TRAIN_WEIGHT_VARS))
    depths = args.depths or list(paper.get("depths", ex.TRAIN_DEPTHS))
    width = paper.get("width", args.width)
    steps = paper.get("steps", args.steps)
    batch = paper.get("batch_size", args.batch_size)
    seeds = args.seeds or 1
    data = None if args.data is None else _load(args.data)
    n = len(depths) * len(wv) * seeds
    on = ("full MNIST" if data is not None
          else "the embedded 1,000 images (800 train, 200 test)")
    print(f"gradcore {__version__} phase --trainability: {activation}, width {width}, "
          f"sigma_b^2 = {bias_var:g}; hidden layers {_list(depths)} x sigma_w^2 {_list(wv)} "
          f"x {_plural(seeds, 'seed')}, {steps} SGD steps of {batch} (eta = {args.eta:g}), "
          f"{on}; {_plural(n, 'training')}, {_where(args, n)}", flush=True)
    t0 = time.perf_counter()
    try:
        res = ex.trainability(wv, depths, activation=activation, bias_var=bias_var,
                              width=width, steps=steps, batch_size=batch, eta=args.eta,
                              seeds=seeds, data=data, out_dir=args.out,
                              figures=not args.no_figures, formats=args.format,
                              **_sweep_kwargs(args))
    except ValueError as exc:  # refused before any training: the memory it would need
        raise _BadArguments(str(exc)) from None
    print(f"\nTest accuracy (%) after {res.steps} steps, median over "
          f"{_plural(len(res.seeds), 'seed')}; last row: the paper's trainable depth 6 xi_c")
    print(f"{'hidden':>6}" + "".join(f"{'w=' + f'{w:g}':>8}" for w in res.weight_vars))
    for d, row in zip(res.depths, res.median()):
        print(f"{d:>6}" + "".join(f"{100 * v:>8.1f}" for v in row))
    six = "".join(f"{'-' if x is None else f'{x:.1f}':>8}" for x in res.trainable_depth())
    print(f"{'6 xi_c':>6}{six}")
    _print_theory(res.theory)
    _report_failures([r for rs in res.results.values() for r in rs if not r.ok])
    _print_written(res.paths, args.out)
    print(f"Done in {time.perf_counter() - t0:.1f} s.")
    return EXIT_OK


# ------------------------------------------------------------------ remedies


def _remedy_names(text: str) -> list[str]:
    """--remedies: comma-separated names of gradcore.experiments.REMEDIES."""
    from .experiments.remedies import check_remedy_names

    try:
        return check_remedy_names(text)
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _cmd_remedies(args: argparse.Namespace) -> int:
    from . import experiments as ex
    from .experiments.remedies import MOMENTUM_ETA_FACTOR

    names = args.remedies
    n = len(names) * args.seeds
    m_eta = args.eta * MOMENTUM_ETA_FACTOR if args.momentum_eta is None else args.momentum_eta
    where = ("full MNIST, accuracy on the 10,000 validation images" if args.data is not None
             else "the first 800 of the embedded 1,000 MNIST images, accuracy on the last 200")
    print(f"gradcore {__version__} remedies: [784, 30, 30, 30, 30, 10] under "
          f"{len(names)} {'remedy' if len(names) == 1 else 'remedies'} x "
          f"{_plural(args.seeds, 'seed')}, on {where}")
    print(f"{_plural(args.epochs, 'epoch')} of m = {args.batch_size}, eta = {args.eta:g} "
          f"(with momentum: {m_eta:g}), lambda = {args.lmbda:g}; {_plural(n, 'training')}, "
          f"{_where(args, n)}", flush=True)
    t0 = time.perf_counter()
    data = None if args.data is None else _load(args.data)
    res = ex.remedies(names, seeds=args.seeds, epochs=args.epochs,
                      batch_size=args.batch_size, eta=args.eta,
                      momentum_eta=args.momentum_eta, lmbda=args.lmbda, data=data,
                      out_dir=args.out, figures=not args.no_figures, formats=args.format,
                      **_sweep_kwargs(args))
    print()
    print("hidden 1 / last hidden layer: log10 of the ratio (0: balance, < 0: the first "
          "layer slower),")
    print(f"median over {_plural(len(res.seeds), 'seed')}; accuracy: median [10th, 90th "
          f"percentile] in %, ranked")
    print(f"{'remedy':<25}{'accuracy':>22}{'speed init':>12}{'after':>8}{'rms init':>10}"
          f"{'after':>8}{'theory':>8}")
    rows = {row["remedy"]: row for row in res.summary()}

    def lg(x: float) -> str:
        return f"{np.log10(x):.2f}" if np.isfinite(x) and x > 0 else "-"

    for name in res.ranking():
        row = rows[name]
        a = row["accuracy"]
        acc = (f"{100 * a['median']:.1f} [{100 * a['p10']:.1f}, {100 * a['p90']:.1f}]"
               if np.isfinite(a["median"]) else "-")
        print(f"{name:<25}{acc:>22}{lg(row['speed_initial']['median']):>12}"
              f"{lg(row['speed_final']['median']):>8}{lg(row['rms_initial']['median']):>10}"
              f"{lg(row['rms_final']['median']):>8}{lg(row['predicted']['median']):>8}")
    _report_failures(res.failures)
    _print_written(res.paths, args.out)
    print(f"Done in {time.perf_counter() - t0:.1f} s.")
    return EXIT_OK


def _list(values: Sequence[float]) -> str:
    return ",".join(f"{v:g}" for v in values)


def _cmd_predict(args: argparse.Namespace) -> int:
    from . import experiments as ex

    sizes = args.sizes
    if len(sizes) < 4:
        raise _BadArguments(f"sizes must have at least 2 hidden layers to compare, got "
                            f"{','.join(map(str, sizes))}")
    init = args.init if args.init is not None else "default"
    activation = args.activation if args.activation is not None else "sigmoid"
    try:
        if args.bias_var is not None:
            from .experiments.predict import with_bias_var

            init = with_bias_var(init, args.bias_var)
        from .experiments.jobs import check_remedy

        check_remedy({"activation": activation, "init": init}, sizes)
    except (TypeError, ValueError) as exc:
        raise _BadArguments(str(exc)) from None
    print(f"gradcore {__version__} predict: {_sizes_str(sizes)}, activation "
          f"{activation if isinstance(activation, str) else ','.join(activation)}, init "
          f"{init}, {_plural(args.seeds, 'seed')} at initialisation, on the first 1,000 "
          f"MNIST training images; {_where(args, args.seeds)}", flush=True)
    t0 = time.perf_counter()
    res = ex.predict(sizes, activation=activation, init=init, seeds=args.seeds,
                     out_dir=args.out, figures=not args.no_figures, formats=args.format,
                     **_sweep_kwargs(args))
    print()
    print(f"Gradient of hidden layer l / hidden layer l+1, median [10th, 90th percentile] "
          f"over {_plural(len(res.seeds), 'seed')}")
    print(f"{'layers':<8}{'theory':>30}{'speed ||mean delta||':>30}"
          f"{'rms of delta':>30}")
    n = len(res.seeds)
    cols = {m: res.summary(m) for m in ("theory", "speed", "rms")}
    for j, pair in enumerate(res.pairs):
        cells = "".join(
            f"{_spread(float(cols[m][0][j]), float(cols[m][1][j]), float(cols[m][2][j]), n):>30}"
            for m in ("theory", "speed", "rms"))
        print(f"{pair:<8}{cells}")
    if res.nominal is not None:
        hidden = len(sizes) - 2
        print(f"(sqrt(chi1) of the init's variances at q*: {res.nominal:.3f}; over the "
              f"{hidden - 1} steps from the last hidden layer to the first, "
              f"{res.nominal ** (hidden - 1):.3g}, a factor {res.nominal ** -(hidden - 1):.3g})")
    _print_written(res.paths, args.out)
    print(f"Done in {time.perf_counter() - t0:.1f} s.")
    return EXIT_OK


# ------------------------------------------------------------------ momentum


def _cmd_momentum(args: argparse.Namespace) -> int:
    from . import experiments as ex

    spec = ex.MOMENTUM_SETUPS[args.setup]
    if args.data is not None and args.setup != "table1":
        raise _BadArguments("--data is for --setup table1 (full MNIST); the other set-ups "
                            "use the embedded 1,000 images")
    seeds = list(range(args.seed, args.seed + args.seeds))
    epochs = args.epochs or spec["epochs"]
    batch = args.batch_size or spec["batch_size"]
    eta = args.eta or spec["eta"]
    n_jobs = len(args.methods) * len(args.inits) * len(seeds)
    print(f"gradcore {__version__} momentum (Sutskever, Martens, Dahl & Hinton 2013): "
          f"{spec['description']}")
    print(f"{', '.join(args.methods)} from init {', '.join(map(str, args.inits))}; "
          f"{_plural(epochs, 'epoch')} of mini-batches of {batch}, eta = {eta:g}, "
          f"mu_max = {args.mu_max:g} on Sutskever's schedule; "
          f"{_plural(len(seeds), 'seed')} ({_seed_range(seeds)}); "
          f"{_plural(n_jobs, 'training')}, {_where(args, n_jobs)}", flush=True)
    t0 = time.perf_counter()
    result = ex.momentum(args.out, setup=args.setup, seeds=args.seeds, seed=args.seed,
                         epochs=args.epochs, eta=args.eta, batch_size=args.batch_size,
                         mu_max=args.mu_max, methods=args.methods, inits=args.inits,
                         path=args.data, figures=not args.no_figures, formats=args.format,
                         **_sweep_kwargs(args))
    n = len(seeds)
    what = "the value" if n == 1 else f"median [10th, 90th percentile] over {n} seeds"
    print()
    print(f"After {_plural(int(result.settings['updates']), 'update')} ({what}); the paper's "
          f"Table 1 is its own set-up, the MNIST autoencoder 784-1000-500-250-30 (sparse "
          f"init, mu_max = 0.99, 750,000 updates)")
    width = 11 if n == 1 else 30
    print(f"{'init':<10}{'method':<10}{'training cost':>{width}}{'squared error':>{width}}"
          f"{'paper':>8}")
    for row in result.table():
        cost = ("-" if row["cost"] is None else
                _spread(row["cost"], row["cost_p10"], row["cost_p90"], n))
        sq = ("-" if row["squared_error"] is None else
              _spread(row["squared_error"], row["squared_error_p10"],
                      row["squared_error_p90"], n))
        paper = "-" if row["paper_table1"] is None else f"{row['paper_table1']:g}"
        print(f"{row['init']!s:<10}{row['method']:<10}{cost:>{width}}{sq:>{width}}"
              f"{paper:>8}")
    print("squared error: per example, sum over the outputs of (a - y)^2 at the end; for an "
          "autoencoder the paper's reconstruction error")
    _report_failures(result.failures)
    _print_written(result.paths, args.out)
    print(f"Done in {time.perf_counter() - t0:.1f} s.")
    return EXIT_OK


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
    folder = datasets.download_mnist(args.dir, progress=True, deadline=args.deadline)
    print(f"MNIST files are in {folder}")
    return EXIT_OK


# ------------------------------------------------------------------ dashboard


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from . import dashboard

    return dashboard.main(args.host, args.port, not args.no_browser, args.allow_origin)


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
    _add_momentum(sub)
    _add_remedies(sub)
    _add_predict(sub)
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
    from . import datasets

    dl = _subcommand(
        sub, "download", _cmd_download, "download the four MNIST files",
        "Download the MNIST IDX files missing from DIR (default: the user "
        "cache, where 'gradcore train' and 'gradcore depth' look), each "
        "verified against its published checksum.")
    dl.add_argument("--dir", type=_dir_to_create, default=None, metavar="DIR",
                    help="destination folder (default: the user cache)")
    _option(dl, "--deadline", "datasets.download_mnist", datasets.DEFAULT_DEADLINE,
            "seconds one file may take before its mirror is given up (default: "
            "%(default)g)", "SECONDS")


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
    db.add_argument("--allow-origin", type=_arg("dashboard.main", "allow_origin"),
                    action="extend", default=None, metavar="NAMES",
                    help="host names or addresses (comma-separated, each optionally "
                         "NAME:PORT; the option may repeat) that the page may be reached "
                         "at besides the served address: any request or websocket naming "
                         "another host is refused. With --host 0.0.0.0 the default is "
                         "localhost and 127.0.0.1 only; with a loopback --host, those and "
                         "the host; with any other --host, that address")
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
        "(weights ~ N(0, s^2/n_in)) or weight variance (--weight-vars: weights ~ "
        "N(0, sigma_w^2/n_in), biases ~ N(0, --bias-var)) and seed: the speed of "
        "learning and the gradient rms of every layer on the embedded 1,000 MNIST "
        "images at initialisation, and after T epochs of full-batch gradient "
        "descent (m = 1000, eta = 0.1, lambda = 5.0) if T > 0. Prints the median "
        "log10(speed of hidden 1 / speed of the last hidden layer) and writes "
        "phase.csv (tidy: depth, scale, seed, epoch, layer, speed, rms), "
        "phase.json and the heat map phase.png, with mean-field theory's critical "
        "line chi1 = 1 and the curves depth = xi_c and 6 xi_c drawn over it. "
        "--trainability instead trains nets over weight variance x depth and maps "
        "their test accuracy (Schoenholz et al. 2017).")
    _option(ph, "--depths", "experiments.phase", None,
            "numbers of hidden layers, comma-separated (default: 1,2,...,10; with "
            "--trainability 2,5,10,15,20,30)", "LIST")
    axis = ph.add_mutually_exclusive_group()
    _option(axis, "--scales", "experiments.phase", None,
            "weight scales s, comma-separated (default: 0.25,0.5,1,2,4,8,16,32)", "LIST")
    _option(axis, "--weight-vars", "experiments.phase", None,
            "weight variances sigma_w^2 as the axis instead of scales, comma-separated, or "
            "'critical' for sigma_c^2 * 2^k, k = -3..3 around the critical point (default "
            "with --trainability: 0.25,0.5,1,1.5,2,3,4)", "LIST")
    _option(ph, "--bias-var", "experiments.phase", None,
            "the biases' variance sigma_b^2 (default: 1, the book's; with --trainability "
            "0.05, the paper's)", "V")
    _epochs_and_seeds(ph, "experiments.phase", 0, "also measure after T epochs of training (0: at "
                          "initialisation only)", None,
                      "seeds 0..K-1 per depth and scale (default: 5; with "
                      "--trainability 1)", epochs_name="T")
    tr = ph.add_argument_group(
        "trainability", "test accuracy after T steps over weight variance x depth "
        "(Schoenholz et al. 2017, 'Deep information propagation'), with the depth 6 xi_c "
        "drawn over it. The default (tanh, sigma_b^2 = 0.05, width 100, depths 2-30, "
        "300 steps of 20 images: the embedded images, 800 to train and 200 to test) runs "
        "in about a minute on two cores. The paper used width 300 and depths 10-300 on "
        "MNIST and CIFAR-10: --paper, with --data on full MNIST, is a job for a cluster "
        "(--scheduler).")
    tr.add_argument("--trainability", action="store_true",
                    help="map test accuracy after training instead of the gradient ratio")
    _option(tr, "--width", "experiments.trainability", 100,
            "neurons per hidden layer (default: %(default)s)", "N")
    _option(tr, "--steps", "experiments.trainability", 300,
            "SGD steps, rounded up to whole epochs (default: %(default)s)", "T")
    _option(tr, "--batch-size", "experiments.trainability", 20,
            "images per step (default: %(default)s)", "M")
    _option(tr, "--eta", "experiments.trainability", 0.05,
            "learning rate (default: %(default)s)")
    tr.add_argument("--data", type=_mnist_dir, default=None, metavar="DIR",
                    help="train on full MNIST's 50,000 images and test on its 10,000 "
                         "(default: the embedded 1,000 images)")
    tr.add_argument("--paper", action="store_true",
                    help="the paper's size: width 300, depths 10-300, sigma_w^2 1-4 in "
                         "steps of 0.25, 3000 steps of 128 (a job for a cluster)")
    _out_args(ph, "gradcore-phase", "experiments.phase")
    _sweep_args(ph)
    _remedy_args(ph, init_help="the family whose scale s is the axis: gaussian (default: "
                               "weights N(0, s^2/n_in)) or orthogonal (gain s)")


def _add_predict(sub: Any) -> None:
    """The ``predict`` subcommand."""
    pr = _subcommand(
        sub, "predict", _cmd_predict,
        "mean-field theory's gradient ratio beside the measured ones, at initialisation",
        "For every pair of consecutive hidden layers of a fresh net: the ratio of "
        "their gradients as mean-field theory predicts it (Poole et al. 2016; "
        "Schoenholz et al. 2017; gradcore.theory.predicted_ratios of each seed's "
        "net), beside the measured ratio of the chapter's speeds ||mean delta|| "
        "and of the gradient rms on the embedded 1,000 MNIST images, median and "
        "10-90 %% band over seeds. Writes predict.csv, predict.json and "
        "predict.png.")
    pr.add_argument("sizes", nargs="?", type=_arg("experiments.predict", "sizes"),
                    default=(784, 30, 30, 30, 30, 10), metavar="SIZES",
                    help="layer sizes, comma-separated, at least 2 hidden layers "
                         "(default: 784,30,30,30,30,10)")
    pr.add_argument("--activation", type=_activations, default=None, metavar="NAME",
                    help="hidden activation, or one per hidden layer comma-separated "
                         "(default: sigmoid)")
    pr.add_argument("--init", type=_arg("Network", "init"), default=None, metavar="INIT",
                    help="initialisation (default: the book's): a name, a weight scale s, "
                         "gaussian:WEIGHT_VAR[,BIAS_VAR] or orthogonal:GAIN[,BIAS_VAR]")
    _option(pr, "--bias-var", "experiments.predict", None,
            "the biases' variance sigma_b^2, with --init default, a scale or gaussian "
            "(default: the init's)", "V")
    _option(pr, "--seeds", "experiments.predict", 10,
            "seeds 0..K-1 (default: %(default)s)", "K")
    _out_args(pr, "gradcore-predict", "experiments.predict")
    _sweep_args(pr)


def _add_momentum(sub: Any) -> None:
    """The ``momentum`` subcommand."""
    f = "experiments.momentum"
    mo = _subcommand(
        sub, "momentum", _cmd_momentum,
        "SGD, momentum and Nesterov with Sutskever's schedule, sparse vs Gaussian init",
        "Sutskever, Martens, Dahl & Hinton (2013), 'On the importance of "
        "initialization and momentum in deep learning': a deep sigmoid net trained "
        "with plain SGD, classical momentum and Nesterov's accelerated gradient "
        "(momentum rising on the paper's schedule to mu_max, 0.9 for the last 1,000 "
        "updates), from Martens's sparse init and from Gaussian N(0, 1/n_in) weights, "
        "K seeds each. Prints the final training cost and squared error per example "
        "beside the paper's Table 1, and writes momentum.csv (tidy), momentum.json "
        "and the cost curves momentum.png. The default, --setup deep, is "
        "[784, 30x8, 10] on the embedded 1,000 images (about a minute on 2 cores); "
        "--setup autoencoder is a small autoencoder on the same images; --setup "
        "table1 is the paper's Table 1 (the MNIST autoencoder 784-1000-500-250-30 "
        "and its mirror, 750,000 updates of 200 images): days of CPU per training, "
        "a job for a Dask cluster (--scheduler).")
    _option(mo, "--setup", f, "deep", "deep (default), autoencoder or table1", "NAME")
    _option(mo, "--seed", f, 0, "the first seed (default: %(default)s)", "N")
    _option(mo, "--seeds", f, 5, "seeds N..N+K-1 per method and init (default: "
            "%(default)s)", "K")
    _option(mo, "--epochs", f, None, "epochs (default: the set-up's: 200, or 2,500 for "
            "table1)", "N")
    _option(mo, "--batch-size", f, None, "mini-batch size (default: 100, or 200 for table1)",
            "M")
    _option(mo, "--eta", f, None, "learning rate, the same for every method (default: the "
            "set-up's)")
    _option(mo, "--mu-max", f, 0.99, "the schedule's largest momentum (default: "
            "%(default)s)", "MU")
    _option(mo, "--methods", f, ["sgd", "momentum", "nesterov"], "comma-separated: sgd, "
            "momentum, nesterov (default: all three)", "LIST")
    _option(mo, "--inits", f, ["sparse", "default"], "initialisations, comma-separated "
            "(default: sparse,default)", "LIST")
    _data_arg(mo)
    _out_args(mo, "gradcore-momentum", f)
    _sweep_args(mo)
def _add_remedies(sub: Any) -> None:
    """The ``remedies`` subcommand."""
    from .experiments.remedies import REMEDIES

    r = _subcommand(
        sub, "remedies", _cmd_remedies,
        "the chapter's net under every remedy of the unstable gradient, ranked",
        "Train [784,30,30,30,30,10] (sigmoid output, cross-entropy) under each named "
        "remedy with K seeds, all side by side: mini-batches of m = 10, eta = 0.1 "
        "(the updates with momentum at eta x (1 - 0.9) = 0.01, so that momentum 0.9's "
        "steady step is plain SGD's), lambda = 0, for E epochs, on the first 800 of the "
        "embedded 1,000 MNIST images (accuracy on the last 200) or on full MNIST with "
        "--data (accuracy on the validation images). Prints, per remedy, the held-out "
        "accuracy and log10 of the ratio hidden 1 / last hidden layer of the speed of "
        "learning and of the gradient rms, at initialisation and after training, beside "
        "the mean-field theory's; writes remedies.csv, remedies_speeds.csv, "
        "remedies.json, the ranking remedies.png and the speeds remedies_speeds.png. The "
        "remedies: " + ", ".join(REMEDIES) + ".")
    f = "experiments.remedies"
    r.add_argument("--remedies", type=_remedy_names, default=list(REMEDIES), metavar="LIST",
                   help="comma-separated remedy names (default: all)")
    _epochs_and_seeds(r, f, 30, "epochs of training", 3,
                      "seeds 0..K-1 per remedy (default: %(default)s)", epochs_name="E")
    _option(r, "--batch-size", f, 10, "mini-batch size (default: %(default)s)", "M")
    _option(r, "--eta", f, 0.1, "learning rate (default: %(default)s)")
    _option(r, "--momentum-eta", f, None, "learning rate of the remedies with momentum "
            "(default: eta x 0.1)", "ETA")
    _option(r, "--lmbda", f, 0.0, "L2 regularisation strength lambda (default: %(default)s)")
    r.add_argument("--data", type=_mnist_dir, default=None, metavar="DIR",
                   help="train on full MNIST from the four IDX files in DIR, the accuracy "
                        "on the validation images (default: the embedded 1,000 images)")
    _out_args(r, "gradcore-remedies", f)
    _sweep_args(r)


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
                      epochs_help: str, seeds: int | None, seeds_help: str, *,
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
    where.add_argument("--scheduler", type=_scheduler, default=None, metavar="ADDRESS",
                       help="run the trainings on the Dask cluster whose scheduler is at "
                            "ADDRESS, e.g. tcp://10.0.0.5:8786 (needs gradcore[dask])")
    p.add_argument("--force", action="store_true",
                   help="replace results of other settings found in the output folder "
                        "(without it, such a folder is refused; a run that only adds or "
                        "drops seeds needs no --force: it keeps the seeds already run)")


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
    except KeyboardInterrupt:  # another Ctrl-C while the first was being reported
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader of our output went away (`gradcore ... | head`): stop quietly, like
        # a Unix tool killed by SIGPIPE, and keep Python from complaining at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + int(getattr(signal, "SIGPIPE", 13))


def _failures() -> tuple[type[BaseException], ...]:
    """What makes a run fail (status 1), as opposed to a bug (a traceback)."""
    from . import DivergenceError, NetworkFileError, Stopped
    from .datasets import MNISTChecksumError, MNISTDownloadError
    from .experiments.dask_backend import WorkerMismatch

    return (_RunFailed, DivergenceError, Stopped, NetworkFileError, MNISTChecksumError,
            MNISTDownloadError, OSError, WorkerMismatch)


def _download_failed(prog: str, exc: Any, args: argparse.Namespace) -> str:
    """A failed download in three short lines: what went wrong, where, and the way out (a
    folder of the files: --data where the command has it, else $GRADCORE_DATA)."""
    attempts = exc.attempts or [("the MNIST mirrors", str(exc))]
    more = f" and {len(attempts) - 1} more" if len(attempts) > 1 else ""
    if exc.unreachable:
        what = "no network, or the MNIST mirrors could not be reached"
        where = f"tried {attempts[0][0]}{more}"
    else:
        url, reason = attempts[-1]
        what = f"could not download {url.rsplit('/', 1)[-1]} from any mirror:"
        where = f"{url}: {_one_line(reason)}"
    option = "--data DIR or " if hasattr(args, "data") else ""
    return (f"{prog}: error: {what}\n  {where}\n"
            f"  use a folder of the four MNIST files instead: {option}GRADCORE_DATA=DIR")


def _run(args: argparse.Namespace) -> int:
    """Run the subcommand; map what went wrong by kind to one line and a status.

    A bad argument: status 2. A run that failed (divergence, a download, a data file, the
    disk, memory): status 1 (a download that failed: three short lines, the last the way
    to a local folder). Ctrl-C: 130. Anything else is a bug in gradcore and keeps its
    traceback.
    """
    from .datasets import MNISTDownloadError
    from .experiments import SettingsMismatch, SweepInterrupted
    from .experiments.runner import SweepTooLarge

    prog = f"gradcore {args.command}"
    try:
        return int(args.func(args))
    except _BadArguments as exc:
        print(f"{prog}: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except SettingsMismatch as exc:  # --out of other settings: the option that replaces them
        print(f"{prog}: error: {_one_line(exc.message('--force'))}", file=sys.stderr)
        return EXIT_USAGE
    except SweepTooLarge as exc:
        print(f"{prog}: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except SweepInterrupted as exc:  # Ctrl-C in a sweep: what was finished, and kept
        return _interrupted(exc, args)
    except KeyboardInterrupt as exc:
        sweep = _cause(exc, SweepInterrupted)  # another Ctrl-C on the sweep's way out
        if sweep is not None:
            return _interrupted(sweep, args)
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except MemoryError:
        print(f"{prog}: error: not enough memory for this run (a smaller network or fewer "
              f"examples need less)", file=sys.stderr)
        return EXIT_FAILURE
    except BrokenPipeError:
        raise
    except MNISTDownloadError as exc:  # offline, most often: three short lines
        print(_download_failed(prog, exc, args), file=sys.stderr)
        return EXIT_FAILURE
    except _failures() as exc:
        print(f"{prog}: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_FAILURE
