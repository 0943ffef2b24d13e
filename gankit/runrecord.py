"""What a run keeps beside its training state: the lines to tell the user, the weights it must not
load, and what its last training session and evaluation gave.

The Trainer holds one `RunRecord` (`trainer.run_record`) and never reads it: building it may add
notes (a D that ends in a sigmoid, a speed option that fell back), and the rest is written and
read by gankit.run, gankit.api and the command line. None of it is in a checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import Tensor


@dataclass(eq=False)
class RunRecord:
    #: lines the user should be told (printed by `gankit train` and by `gankit.fit`)
    notes: list[str] = field(default_factory=list)
    #: executable weights the run folder's own config names (eval.inception_weights): not loaded
    #: unless the user trusts the folder or names the file again
    untrusted_weights: str | None = None
    #: the last training session in this process: peak memory, processes, seconds, speed
    session_stats: dict[str, Any] | None = None
    #: whether the last evaluation wrote metrics.json (a read-only folder: only printed)
    metrics_written: bool = False
    #: the last evaluation's samples, which the pictures then show
    eval_samples: Tensor | None = None

    def note(self, text: str) -> None:
        """Tell the user `text` once (a note already waiting is not repeated)."""
        if text not in self.notes:
            self.notes.append(text)

    def take_notes(self) -> list[str]:
        """The waiting notes, handed over once: shown notes are not shown again."""
        notes, self.notes = self.notes, []
        return notes
