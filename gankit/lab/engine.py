"""The lab's training thread: one or two runs trained in lockstep, a frame of each published
several times a second, commands from the page (settings, pause, step, reset, save) carried out
between steps. Everything that touches a trainer happens on this one thread.

Changing any setting, the seed, or turning the second run on starts both runs again from step 0
with the same seed, so the two are always compared at the same step.
"""

from __future__ import annotations

import contextlib
import copy
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gankit.errors import GankitError
from gankit.lab import controls as lab_controls

if TYPE_CHECKING:
    from gankit.lab.frames import FrameMaker
    from gankit.lab.session import LabRun

# torch, gankit's trainer and the theory code are imported by the training thread (`_setup`), so
# that the page is served while they load; W1's solver is loaded beside training once the first
# frame is out (`_load_w1`), since the first frame does not wait for it.

FRAME_SECONDS = 0.25  # a frame of each run four times a second
VALUE_EVERY = 4  # C(G) (Monte Carlo) on every 4th frame: once a second
HISTORY_LIMIT = 1200  # curve points kept per run; beyond, every other one is dropped
RUNS = ("a", "b")
STARTUP_SECONDS = 120  # how long a request waits for the training thread's first run
#: The second run starts as the first with the unrolled GAN's remedy (Metz et al. 2017 unroll
#: K = 10 steps; each unrolled step costs about one more D update, so the lab starts at 5).
SECOND_RUN = {"unroll": 5}


@dataclass(eq=False)  # compared by identity: two runs may have equal settings
class Slot:
    """One run of the page: its settings, the run, its frames and curves."""

    controls: dict[str, Any]
    run: LabRun | None = None
    maker: FrameMaker | None = None
    frame: dict[str, Any] | None = None
    background: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    generation: int = 0  # bumped when the history restarts or is thinned
    error: str | None = None  # why this run stopped (a NaN loss, ...)
    theorem: dict[str, Any] | None = None
    saved: dict[str, Any] | None = None
    steps_per_second: float = 0.0


def _label(controls: dict[str, Any]) -> str:
    words = [controls["data"], controls["loss"]]
    for key, name in (("unroll", "unrolled K={}"), ("pack", "PacGAN m={}"), ("k", "k={}")):
        if controls[key] > 1 or (key == "unroll" and controls[key]):
            words.append(name.format(controls[key]))
    return ", ".join(words)


class Engine:
    """Owns the runs and the training thread. Request handlers call `configure`, `command` and
    `snapshot` from any thread; only the training thread touches the runs."""

    def __init__(self, out_root: Path) -> None:
        self.out_root = Path(out_root)
        self.losses: list[dict[str, Any]] = []  # the loss registry's, once `ready`
        self.slots: dict[str, Slot] = {}
        self.seed, self.running, self.compare = 0, True, False
        self.version = 0
        self.lock = threading.Lock()
        self.commands: queue.Queue[tuple[str, dict[str, Any], Future]] = queue.Queue()
        self.ready = threading.Event()  # the slots exist (the first run may still be building)
        self.stopping = threading.Event()
        self.failed: str | None = None  # why the training thread could not start
        self.w1_ready = threading.Event()  # frames carry W1 from then on
        self.thread = threading.Thread(target=self._loop, name="gankit-lab", daemon=True)

    # -- called from request handlers ----------------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.commands.put(("stop", {}, Future()))
        if self.thread.is_alive():
            self.thread.join(timeout=10)

    def configure(self, run: str, raw: Any, seed: Any = None) -> dict[str, Any]:
        """Check one run's settings (and the seed) now, raising LabInputError, then have the
        training thread restart the runs with them. Returns the settings as they will be used."""
        if run not in RUNS:
            raise lab_controls.LabInputError(f"unknown run {run!r}: a or b")
        self.wait_ready()
        from gankit.lab.session import build_config

        settings = lab_controls.validate_run(raw, [o["name"] for o in self.losses])
        new_seed = self.seed if seed is None else lab_controls.SEED.parse("seed", seed)
        build_config(settings, new_seed)  # every config error now, in the page's words
        self.command("apply", run=run, controls=settings, seed=new_seed)
        return _raw(settings)

    def wait_ready(self) -> None:
        """Block until the training thread has set up (torch loaded), or raise why not."""
        if not self.ready.wait(STARTUP_SECONDS) or self.failed:
            raise GankitError(self.failed or "the lab's training thread did not start in "
                              f"{STARTUP_SECONDS} s")

    def command(self, name: str, **args: Any) -> Future:
        """Queue a command for the training thread; its Future holds the result."""
        done: Future = Future()
        self.commands.put((name, args, done))
        return done

    def snapshot(self) -> tuple[int, dict[str, Any], dict[str, Slot]]:
        """(version, the global state, shallow copies of the slots), consistent with each other."""
        with self.lock:
            slots = {k: copy.copy(s) for k, s in self.slots.items()}
            state = {"running": self.running, "compare": self.compare, "seed": self.seed}
            return self.version, state, slots

    # -- the training thread --------------------------------------------------------------------
    def _setup(self) -> None:
        """Load gankit's training code and make the two runs' default settings."""
        from gankit.lab.session import loss_options

        self.losses = loss_options()
        names = [o["name"] for o in self.losses]
        first = lab_controls.validate_run({}, names)
        second = lab_controls.validate_run({**_raw(first), **SECOND_RUN}, names)
        with self.lock:
            self.slots = {"a": Slot(first), "b": Slot(second)}
            self.version += 1

    def _loop(self) -> None:
        try:
            self._setup()
        except Exception as e:  # e.g. a broken installation: the page says so
            self.failed = _failure(e, None).replace("training stopped", "the lab cannot start")
            raise
        finally:
            self.ready.set()
        self._restart()
        threading.Thread(target=self._load_w1, name="gankit-lab-w1", daemon=True).start()
        frames = 0
        while not self.stopping.is_set():
            self._drain()
            active = self._trainable()
            if self.running and active:
                self._train_for(active, FRAME_SECONDS)
                self._publish(frames % VALUE_EVERY == 0)
                frames += 1
            else:
                self._wait_for_command(FRAME_SECONDS)

    def _load_w1(self) -> None:
        from gankit.lab.frames import load_w1

        with contextlib.suppress(Exception):  # if it fails, the frames' own W1 says why
            load_w1()
        self.w1_ready.set()

    def _active(self) -> list[Slot]:
        if not self.slots:
            return []
        return [self.slots["a"], self.slots["b"]] if self.compare else [self.slots["a"]]

    def _trainable(self) -> list[Slot]:
        return [s for s in self._active() if s.run is not None and s.error is None]

    def _train_for(self, slots: list[Slot], seconds: float) -> None:
        """Steps of each run in turn (lockstep) for about `seconds`, or until a command comes."""
        started = time.perf_counter()
        first = {id(s): s.run.step for s in slots}
        while time.perf_counter() - started < seconds and self.commands.empty():
            for s in slots:
                self._step(s)
            if any(s.error for s in slots):
                break
        elapsed = max(time.perf_counter() - started, 1e-9)
        for s in slots:
            s.steps_per_second = (s.run.step - first[id(s)]) / elapsed

    def _step(self, slot: Slot) -> None:
        if slot.error is not None:
            return
        try:
            slot.run.train_step()
        except Exception as e:  # a NaN loss (gankit's guard) or a bug: the page says so
            slot.error = _failure(e, slot.run.step)

    def _wait_for_command(self, timeout: float) -> None:
        try:
            item = self.commands.get(timeout=timeout)
        except queue.Empty:
            return
        self._execute(*item)

    def _drain(self) -> None:
        while True:
            try:
                item = self.commands.get_nowait()
            except queue.Empty:
                return
            self._execute(*item)

    def _execute(self, name: str, args: dict[str, Any], done: Future) -> None:
        try:
            done.set_result(getattr(self, f"_do_{name}")(**args))
        except Exception as e:  # reported to the page; the thread goes on
            done.set_exception(e if isinstance(e, GankitError) else GankitError(
                _failure(e, None)))

    # -- commands (on the training thread) ------------------------------------------------------
    def _do_stop(self) -> None:
        self.stopping.set()

    def _do_apply(self, run: str, controls: dict[str, Any], seed: int) -> None:
        self.slots[run].controls, self.seed = controls, seed
        self._restart()

    def _do_play(self) -> None:
        self._set(running=True)

    def _do_pause(self) -> None:
        self._set(running=False)

    def _do_compare(self, on: bool) -> None:
        self._set(compare=bool(on))
        self._restart()

    def _do_reset(self) -> None:
        self._restart()

    def _do_step(self) -> None:
        """One iteration of Algorithm 1 for each run (while paused)."""
        self._set(running=False)
        for s in self._trainable():
            self._step(s)
        self._publish(True)

    def _do_save(self, run: str) -> dict[str, Any]:
        slot = self.slots[run]
        if slot.run is None or slot not in self._active():
            raise GankitError(f"run {run.upper()} is not running; turn it on first")
        folder = slot.run.save(self.out_root, _label(slot.controls))
        shown = slot.frame["metrics"] if slot.frame is not None else {}
        with self.lock:
            slot.saved = {"folder": str(folder), "step": slot.run.step,
                          "metrics": {k: shown[k] for k in ("modes", "hq", "w1") if k in shown}}
            self.version += 1
        return slot.saved

    def _do_theorem(self, run: str) -> None:
        """Start Theorem 1's check of the run's current G; its result arrives in a later frame."""
        slot = self.slots[run]
        if slot.maker is None:
            raise GankitError(f"run {run.upper()} is not running; turn it on first")
        from gankit.lab.frames import theorem

        inputs, target = slot.maker.densities(), slot.run

        def check() -> None:
            result = theorem(*inputs)
            with self.lock:
                if slot.run is target:  # not restarted meanwhile
                    slot.theorem = result
                    self.version += 1

        threading.Thread(target=check, name="gankit-lab-theorem", daemon=True).start()

    # -- runs and frames ------------------------------------------------------------------------
    def _set(self, **state: Any) -> None:
        with self.lock:
            for key, value in state.items():
                setattr(self, key, value)
            self.version += 1

    def _restart(self) -> None:
        """Build the active runs afresh from their settings and the seed, at step 0."""
        from gankit.lab.frames import FrameMaker
        from gankit.lab.session import LabRun, build_config

        for slot in self.slots.values():
            if slot not in self._active():
                with self.lock:
                    slot.run = slot.maker = slot.frame = None
                continue
            run = maker = error = None
            try:
                run = LabRun(build_config(slot.controls, self.seed), slot.controls["data"])
                maker = FrameMaker(run, self.w1_ready)
            except Exception as e:
                error = _failure(e, 0)
            with self.lock:
                slot.run, slot.maker, slot.error = run, maker, error
                slot.frame, slot.history, slot.theorem, slot.saved = None, [], None, None
                slot.background = maker.background() if maker is not None else None
                slot.generation += 1
                self.version += 1
        self._publish(True)

    def _publish(self, with_value: bool) -> None:
        for slot in self._active():
            if slot.maker is None:
                continue
            try:
                frame = slot.maker.make(with_value)
                record = slot.run.log()
            except Exception as e:
                slot.error = _failure(e, slot.run.step)
                frame, record = None, None
            with self.lock:
                if frame is not None:
                    frame["seq"] = self.version  # tells a page which frames it has
                    slot.frame = frame
                    slot.history.append(_point(frame, record, slot))
                    if len(slot.history) > HISTORY_LIMIT:
                        slot.history = slot.history[::2]
                        slot.generation += 1
                self.version += 1


def _point(frame: dict[str, Any], record: dict[str, float] | None, slot: Slot) -> dict[str, Any]:
    """One point of the curves: training statistics, mode metrics, theory values."""
    point = {"step": frame["step"], **{k: v for k, v in frame["metrics"].items()
                                       if k != "n_modes"}}
    if record is not None:
        point.update({k: record[k] for k in ("d_loss", "g_loss", "d_real", "d_fake")})
        if slot.run.cross_entropy:
            point["v_learned"] = -record["d_loss"]
    if "c_of_g" in frame:
        point["c_of_g"] = frame["c_of_g"]
    return point


def _raw(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as the page holds them (without the parsed mixture)."""
    return {k: v for k, v in settings.items() if not k.startswith("mixture_") or k ==
            "mixture_std"}


def _failure(error: Exception, step: int | None) -> str:
    where = f" at step {step}" if step is not None else ""
    if isinstance(error, GankitError):
        return f"training stopped{where}: {error}"
    return (f"training stopped{where} by an unexpected {type(error).__name__}: "
            f"{str(error)[:200]} (a bug in gankit)")
