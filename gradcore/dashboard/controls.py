"""The dashboard's form: the settings of a run as text inputs and selects, and its buttons.

Every input is read as text (``value_input``: what is typed, even before Enter) and handed to
:func:`~gradcore.dashboard.settings.parse_settings`; the page never trusts the browser to
have checked a value. Each widget carries a CSS class ``gc-<field>`` (``gc-start``, … for
the buttons) by which a browser test finds it.
"""

from __future__ import annotations

import html
from typing import Any

from bokeh.layouts import column, row
from bokeh.models.widgets import Button, Div, Select, TextInput

from .settings import (
    ACTIVATION_CHOICES,
    COST_CHOICES,
    FIELDS,
    INIT_CHOICES,
    LIMITS,
    NESTEROV_CHOICES,
    SCHEDULE_CHOICES,
    Settings,
)

__all__ = ["Controls", "limits_html"]

_SELECTS = {"init": INIT_CHOICES, "cost": COST_CHOICES, "activation": ACTIVATION_CHOICES,
            "nesterov": NESTEROV_CHOICES, "schedule": SCHEDULE_CHOICES}


def limits_html() -> str:
    """The limits, as the page states them under the form."""
    return (f"<p class='gc-limits'>Limits: {LIMITS.min_hidden}–{LIMITS.max_hidden} hidden "
            f"layers of 1–{LIMITS.max_width} neurons; 1–{LIMITS.max_epochs} epochs; the "
            f"first {LIMITS.min_images}–{LIMITS.max_images} of the embedded MNIST images; "
            f"0 &lt; η ≤ {LIMITS.max_eta:g}; 0 ≤ λ ≤ {LIMITS.max_lmbda:g}; "
            f"0 &lt; s ≤ {LIMITS.max_scale:g}; 0 ≤ μ ≤ {LIMITS.max_momentum:g}; dropout "
            f"0–{LIMITS.max_dropout:g}. At most {LIMITS.max_kept} kept runs per page "
            f"and {LIMITS.max_runs} trainings at once on this server.</p>")


class Controls:
    """The inputs, the buttons and the message line of one page."""

    def __init__(self) -> None:
        self.inputs: dict[str, TextInput | Select] = {}
        for name, label in FIELDS.items():
            cls = [f"gc-{name}"]
            if name in _SELECTS:
                options: list[str | tuple[Any, str]] = list(_SELECTS[name])
                self.inputs[name] = Select(title=label, options=options,
                                           css_classes=cls, name=name, width=250)
            else:
                self.inputs[name] = TextInput(title=label, css_classes=cls, name=name,
                                              width=250)
        self.start = Button(label="Start", button_type="success", css_classes=["gc-start"],
                            width=120)
        self.pause = Button(label="Pause", css_classes=["gc-pause"], width=120)
        self.reset = Button(label="Reset", css_classes=["gc-reset"], width=120)
        self.keep = Button(label="Keep this run", button_type="primary",
                           css_classes=["gc-keep"], width=120)
        self.message = Div(text="", name="message", css_classes=["gc-message"], width=260,
                           styles={"color": "#b00020"})
        self.show(Settings())

    def values(self) -> dict[str, str]:
        """The form's text, field by field (what is typed, even before Enter)."""
        return {name: (w.value if isinstance(w, Select) else w.value_input)
                for name, w in self.inputs.items()}

    def show(self, settings: Settings) -> None:
        """Put ``settings`` into the form."""
        for name, text in settings.form().items():
            w = self.inputs[name]
            w.value = text
            if isinstance(w, TextInput):
                w.value_input = text
        self.inputs["scale"].disabled = settings.form()["init"] != "scale"

    def say(self, lines: list[str], *, error: bool = True) -> None:
        """Show ``lines`` under the buttons (red for refusals), or clear it with []."""
        self.message.styles = {"color": "#b00020" if error else "#333333"}
        self.message.text = "".join(f"<p>{html.escape(line)}</p>" for line in lines)

    def layout(self) -> object:
        i = self.inputs
        buttons = column(row(self.start, self.pause), row(self.keep, self.reset))
        return column(
            i["hidden"], i["width"], i["activation"], i["init"], i["scale"], i["cost"],
            i["eta"], i["lmbda"], i["batch_size"], i["epochs"], i["seed"], i["images"],
            Div(text="<b>The update</b>", width=250), i["momentum"], i["nesterov"],
            i["schedule"], i["clip_norm"], i["dropout"], buttons, self.message,
            Div(text=limits_html(), width=260, styles={"font-size": "11px", "color": "#555"}),
            width=280)
