"""
The chapter's speeds of learning
================================

The speed of learning of each hidden layer of [784,30,30,30,30,10] during full-batch
gradient descent on the 1,000 embedded MNIST images (η = 0.1, λ = 5.0), over three seeds:
the median and the 10–90 % band. ``gradcore chapter5`` runs the full version (500 epochs,
three depths).
"""

import numpy as np

from gradcore import experiments, plotting

result = experiments.chapter5(seeds=3, epochs=100, hidden=(4,), progress=False)
net = result.nets[4]
median, p10, p90 = net.initial_summary()
print("initial speeds, median over 3 seeds:", median.round(4))
print("the book's single run:              ", experiments.BOOK_INITIAL_SPEEDS[4])
print(f"hidden 4 / hidden 1 before the last update, median over 3 seeds: "
      f"{np.median(net.ratio()[:, -1]):.0f}x")
fig = plotting.speeds_figure(net.speeds, hidden=4)
