"""
Accuracy against depth, small
=============================

Nets of 1 to 4 hidden layers of 30, trained with mini-batch SGD (m = 10, η = 0.5,
λ = 1.0) on 800 of the embedded images and evaluated on the other 200 after every
epoch, over three seeds. ``gradcore depth`` runs the chapter's version on full MNIST
(30 epochs, 50,000 images); with so little data the deeper nets fall further behind.
"""

import numpy as np

from gradcore import datasets, experiments, plotting

X, y = datasets.mnist_first_1000()
data = datasets.MNIST(training=(X[:800], y[:800]), validation=(X[800:], y[800:]),
                      test=(X[800:], y[800:]))
res = experiments.depth(data, epochs=15, seeds=3, eta=0.5, lmbda=1.0, progress=False)
(last, last_sd), (best, best_sd) = res.last(), res.best()
print(f"{'net':<24}{'last epoch':>18}{'best epoch':>18}")
for sizes, m, sd, bm, bsd in zip(res.sizes, last, last_sd, best, best_sd):
    print(f"{list(sizes)!s:<24}{m:>10.2f} ± {sd:4.2f} %{bm:>10.2f} ± {bsd:4.2f} %")
curves = {"-".join(map(str, s)): np.array([r.evaluation_accuracy for r in row])
          for s, row in zip(res.sizes, res.results)}
fig = plotting.depth_figure(curves)
