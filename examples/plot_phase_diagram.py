"""
The phase diagram on a small grid
=================================

The median over seeds of log10(speed of hidden layer 1 ÷ speed of the last hidden layer)
at initialisation, for 1 to 6 hidden layers of 30 and weight scales s from 0.5 to 32
(weights N(0, s²/n_in)): negative where the gradient vanishes, positive where it explodes.
``gradcore phase`` runs 1 to 10 hidden layers.
"""

from gradcore import experiments, plotting

res = experiments.phase(depths=[1, 2, 3, 4, 6], scales=[0.5, 1, 2, 4, 8, 16, 32], seeds=3,
                        progress=False)
print(res.log_ratio(0).round(2))
fig = plotting.phase_figure(res.depths, res.scales, res.log_ratio(0), n_seeds=3)
