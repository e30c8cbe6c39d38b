"""The experiments of chapter 5 of "Neural Networks and Deep Learning", as library calls.

Every function returns the numbers; the command line (:mod:`gradcore.cli`) only prints
them. The experiments:

* :func:`chapter5` -- the speed of every layer of 2, 3 and 4 hidden layers of 30 at
  initialisation and during 500 epochs of full-batch gradient descent on the first 1,000
  MNIST training images, over seeds (median and 10–90 % band beside the book's run).
* :func:`depth` -- validation accuracy against depth on full MNIST (the book: 96.48,
  96.90, 96.57, 96.53 % for 1 to 4 hidden layers), the last and the best epoch's.
* :func:`momentum` -- SGD, classical momentum and Nesterov's accelerated gradient with
  Sutskever et al.'s (2013) schedule, sparse against Gaussian initialisation, over seeds.
* :func:`remedies` -- the chapter's net under every named remedy (activations,
  initialisations, updates), the speed ratios beside the theory's and the accuracy.
* :func:`phase` -- the unstable gradient as a phase diagram over depth × weight scale
  or weight variance, with mean-field theory's critical line and depth scales over it.
* :func:`predict` -- each hidden layer's gradient ÷ the next's at initialisation:
  mean-field theory beside the chapter's speeds and the gradient rms, over seeds.
* :func:`trainability` -- test accuracy after T steps over weight variance × depth, with
  the depth 6·ξ_c of Schoenholz et al. (2017) over it.
* :func:`chain` -- the one-neuron-per-layer chain, exploding (every factor w·σ'(z) = 25
  for w = 100) and vanishing (w ~ N(0, 1)), and :func:`balance_window`.
* :func:`saturation` -- Glorot & Bengio's (2010) saturating activations during training and
  their layer Jacobians at initialisation.
* :func:`isometry` -- the singular values of the input–output Jacobian at initialisation,
  Gaussian against orthogonal weights (Saxe et al. 2014; Pennington et al. 2017).
* :func:`read` -- any sweep's results folder as a pandas DataFrame (the ``pandas`` extra).
* :func:`initial_speeds`, :func:`initial_deltas`, :func:`speeds_during_training` -- one
  network; :func:`train_mnist` -- one training run on full MNIST.

The modules, one job each: :mod:`~.jobs` (one training job and its result),
:mod:`~.runner` (many jobs on all cores or a Dask cluster, results in job order),
:mod:`~.store` (the results folder that makes sweeps resumable), :mod:`~.dask_backend`,
one module per experiment (:mod:`~.chapter5`, :mod:`~.depth`, :mod:`~.phase`,
:mod:`~.chain`, :mod:`~.speeds`, :mod:`~.mnist`), :mod:`~.results` (what they return),
:mod:`~.output` (every file they write: CSV, JSON, figures, atomically), :mod:`~.frames`
(results as DataFrames) and :mod:`~.book`
(the book's numbers).

The speed of learning of layer l is ‖(1/N) Σₓ δˡ(x)‖₂, the norm of the mean over the N
examples of δˡ = ∂C/∂bˡ (see :meth:`gradcore.Network.learning_speeds`).
"""

from .book import (
    BOOK_DEPTH_ACCURACY,
    BOOK_INITIAL_SPEEDS,
    CHAPTER5_HIDDEN,
    DEPTH_SIZES,
    book_speed_ratio,
    chapter5_sizes,
    layer_names,
)
from .chain import (
    Chain,
    ChainResult,
    balance_window,
    chain,
    chain_gradients,
    exploding_chain,
    vanishing_chain,
)
from .chapter5 import chapter5
from .dask_backend import SchedulerLost
from .depth import depth
from .frames import read, results_frame
from .isometry import IsometryResult, isometry
from .jobs import Job, JobResult, run_job
from .mnist import MNISTTraining, TrainingInterrupted, train_mnist
from .momentum import (
    MOMENTUM_INITS,
    MOMENTUM_METHODS,
    MOMENTUM_SETUPS,
    SUTSKEVER_TABLE1,
    MomentumResult,
    momentum,
)
from .output import (
    SpeedsTable,
    read_phase_csv,
    read_speeds_csv,
    write_chapter5,
    write_depth,
    write_phase,
)
from .phase import PHASE_DEPTHS, PHASE_SCALES, phase
from .predict import PREDICT_SIZES, PredictResult, predict, write_predict
from .remedies import REMEDIES, RemediesResult, Remedy, remedies
from .results import Chapter5Result, DepthResult, PhaseResult, SpeedsOverSeeds
from .runner import SweepInterrupted, SweepTooLarge, check_sweep_size, default_jobs, run_jobs
from .saturation import SaturationResult, saturation
from .speeds import SpeedsRun, initial_deltas, initial_speeds, speeds_during_training
from .store import ResultStore, SettingsMismatch
from .trainability import (
    TRAIN_DEPTHS,
    TRAIN_WEIGHT_VARS,
    TrainabilityResult,
    trainability,
    write_trainability,
)

__all__ = [
    "BOOK_INITIAL_SPEEDS",
    "BOOK_DEPTH_ACCURACY",
    "CHAPTER5_HIDDEN",
    "DEPTH_SIZES",
    "PHASE_DEPTHS",
    "PHASE_SCALES",
    "chapter5_sizes",
    "layer_names",
    "book_speed_ratio",
    "Job",
    "JobResult",
    "run_job",
    "run_jobs",
    "default_jobs",
    "SweepInterrupted",
    "SchedulerLost",
    "SweepTooLarge",
    "check_sweep_size",
    "ResultStore",
    "SettingsMismatch",
    "SpeedsRun",
    "initial_speeds",
    "initial_deltas",
    "speeds_during_training",
    "SpeedsOverSeeds",
    "Chapter5Result",
    "chapter5",
    "write_chapter5",
    "read_speeds_csv",
    "SpeedsTable",
    "PhaseResult",
    "phase",
    "write_phase",
    "read_phase_csv",
    "REMEDIES",
    "Remedy",
    "RemediesResult",
    "remedies",
    "DepthResult",
    "depth",
    "write_depth",
    "read",
    "results_frame",
    "MNISTTraining",
    "TrainingInterrupted",
    "train_mnist",
    "Chain",
    "ChainResult",
    "chain",
    "chain_gradients",
    "exploding_chain",
    "vanishing_chain",
    "balance_window",
    "momentum",
    "MomentumResult",
    "MOMENTUM_METHODS",
    "MOMENTUM_INITS",
    "MOMENTUM_SETUPS",
    "SUTSKEVER_TABLE1",
    "PREDICT_SIZES",
    "PredictResult",
    "predict",
    "write_predict",
    "TRAIN_DEPTHS",
    "TRAIN_WEIGHT_VARS",
    "TrainabilityResult",
    "trainability",
    "write_trainability",
    "saturation",
    "SaturationResult",
    "isometry",
    "IsometryResult",
]
