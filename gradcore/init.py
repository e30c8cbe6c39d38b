"""Weight initialisation schemes: :class:`gradcore.Network`'s ``init``.

Every scheme, its formula and its paper are in the functions below, one per
scheme; this module is their public face. ``init`` is a name of :data:`INIT_NAMES`
(``"default"``, ``"large"``, ``"glorot"``, ``"glorot_standard"``, ``"lecun"``, ``"he"``,
``"orthogonal"``, ``"sparse"``), a weight scale s > 0, or one of the mean-field forms
:class:`gradcore.Gaussian` ``(weight_var, bias_var)`` and :class:`gradcore.Orthogonal`
``(gain, bias_var)``.
The same seed gives the same weights on every machine: nothing here goes through BLAS or
LAPACK (the orthogonal scheme's QR is gradcore's own, :func:`orthonormal_columns`).
"""

from ._init import (
    INIT_NAMES,
    Gaussian,  # noqa: F401 (gradcore.init.Gaussian works; documented as gradcore.Gaussian)
    Orthogonal,  # noqa: F401
    draw_default,
    draw_gaussian,
    draw_glorot,
    draw_glorot_standard,
    draw_he,
    draw_large,
    draw_lecun,
    draw_orthogonal,
    draw_scaled,
    draw_sparse,
    initialize,
    orthonormal_columns,
)

# (Gaussian and Orthogonal are documented where users meet them: gradcore.Gaussian and
# gradcore.Orthogonal)
__all__ = ["INIT_NAMES", "initialize", "orthonormal_columns",
           "draw_default", "draw_large", "draw_scaled", "draw_gaussian", "draw_lecun",
           "draw_he", "draw_glorot", "draw_glorot_standard", "draw_orthogonal", "draw_sparse"]
