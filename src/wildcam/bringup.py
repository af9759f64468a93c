"""``wildcam bringup``: start the node table's graph here, as ``ros2 launch`` would.

Separate processes (the default): one child per node of :data:`wildcam.graph.NODES`, each with
the same parameters YAML (``--ros-args --params-file``), respawned with exponential backoff when
it dies, all stopped cleanly on SIGINT/SIGTERM (SIGINT to each child, then SIGTERM, then SIGKILL
for stragglers), then zombie Fast DDS shared-memory files are cleaned. Exits 0 after a requested
shutdown and 1 when a node keeps failing (more than ``max_restarts`` within ``restart_window_s``)
or a node without respawn dies. A node that exits with a configuration error
(:data:`~wildcam.errors.NO_RESPAWN`) would fail the same way on every start: bringup stops at
once with its message and exits 2. A node that exits with
:data:`~wildcam.errors.EXIT_NEEDS_OPERATOR` (damaged data set aside) is not respawned; the
others keep running.

A managed (lifecycle) node of the table starts with ``autostart`` false and bringup drives its
transitions, as nav2's lifecycle manager does: after each start of one (first start or respawn)
a short-lived helper process (``python -m wildcam.ros.lifecycle --goal active``; this process
holds no rclpy) configures and activates it, and the stop deactivates it (``--goal inactive``,
bounded by ``stop_timeout_s``) before the SIGINT. The composed mode leaves the camera's
``autostart`` as it is.

A node that publishes no images, and the composed process, get the small shared-memory
segment (:data:`wildcam.rosenv.SMALL_SHM_PROFILE`). This process imports next to nothing: it holds
memory on the device for as long as the trap runs.

Composed mode: every node in this one process on one SingleThreadedExecutor (small devices).
This module imports no rclpy; the composed mode imports it when used.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wildcam.config_check import check_node_names
from wildcam.errors import EXIT_FAILED, EXIT_NEEDS_OPERATOR, EXIT_USAGE, NO_RESPAWN
from wildcam.graph import NODES, NodeSpec, node
from wildcam.logs import to_terminal
from wildcam.rosenv import config_dir, ros_environment, small_messages_environment

__all__ = [
    "Child",
    "Supervisor",
    "clean_port_files",
    "clean_shared_memory",
    "lifecycle_command",
    "node_command",
    "own_queue_params",
    "run_composed",
]

logger = logging.getLogger("wildcam.bringup")


def node_command(
    spec: NodeSpec,
    params_file: Path | Sequence[Path],
    namespace: str = "",
    use_sim_time: bool = False,
    log_level: str = "info",
) -> list[str]:
    """The command line that starts one node as its own process (later files override)."""
    files = [params_file] if isinstance(params_file, Path) else list(params_file)
    cmd = [sys.executable, "-m", spec.module, "--ros-args", "-r", f"__node:={spec.name}"]
    for path in files:
        cmd += ["--params-file", str(path)]
    cmd += ["--log-level", log_level]
    if namespace:
        cmd += ["-r", f"__ns:={namespace if namespace.startswith('/') else '/' + namespace}"]
    if use_sim_time:
        cmd += ["-p", "use_sim_time:=true"]
    if spec.managed:
        cmd += ["-p", "autostart:=false"]  # bringup drives its transitions
    return cmd


def lifecycle_command(
    goal: str, names: Sequence[str], namespace: str = "", timeout_s: float = 30.0
) -> list[str]:
    """The helper that drives the managed nodes ``names`` to ``goal`` and exits."""
    cmd = [sys.executable, "-m", "wildcam.ros.lifecycle", "--goal", goal]
    cmd += ["--timeout", f"{timeout_s:g}", *names]
    if namespace:
        cmd += [
            "--ros-args",
            "-r",
            f"__ns:={namespace if namespace.startswith('/') else '/' + namespace}",
        ]
    return cmd


@dataclass
class Child:
    """One supervised node process."""

    spec: NodeSpec
    command: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)
    next_start: float = 0.0


class Supervisor:
    """Starts, watches, respawns and stops the node processes."""

    def __init__(
        self,
        specs: Sequence[NodeSpec],
        params_file: Path | Sequence[Path],
        *,
        namespace: str = "",
        use_sim_time: bool = False,
        env: dict[str, str] | None = None,
        max_restarts: int = 5,
        restart_window_s: float = 60.0,
        backoff_s: float = 0.5,
        backoff_max_s: float = 10.0,
        stop_timeout_s: float = 10.0,
        log_level: str = "info",
        log_dir: Path | None = None,
    ) -> None:
        self.children = [
            Child(s, node_command(s, params_file, namespace, use_sim_time, log_level))
            for s in specs
        ]
        self.namespace = namespace
        self.managed = [s.name for s in specs if s.managed]
        self._manager: subprocess.Popen[bytes] | None = None  # the lifecycle helper running
        self._manage_again = False  # a managed node (re)started while the helper ran
        self.env = env if env is not None else ros_environment()
        self.max_restarts, self.restart_window_s = max_restarts, restart_window_s
        self.backoff_s, self.backoff_max_s = backoff_s, backoff_max_s
        self.stop_timeout_s = stop_timeout_s
        self.log_dir = log_dir  # None: children write to this terminal; else <node>.log there
        self._stop_requested = False
        self.exit_code = 0  # of run(): EXIT_FAILED or EXIT_USAGE once it gives up
        self.exits: list[tuple[str, int]] = []  # (node, exit code) of every unrequested exit
        to_terminal()  # its lines: [bringup] ...

    def request_stop(self, *_: object) -> None:
        """Signal handler: ask the supervision loop to stop everything."""
        self._stop_requested = True

    def _lifecycle(self, goal: str, timeout_s: float) -> subprocess.Popen[bytes]:
        """Start the lifecycle helper for the managed nodes (its lines go where bringup's go)."""
        cmd = lifecycle_command(goal, self.managed, self.namespace, timeout_s)
        out = None if self.log_dir is None else (self.log_dir / "lifecycle.log").open("ab")
        try:
            return subprocess.Popen(
                cmd,
                env=small_messages_environment(self.env),
                stdout=out,
                stderr=subprocess.STDOUT if out else None,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            if out is not None:
                out.close()

    def _manage(self) -> None:
        """Activate the managed nodes: start the helper, or rerun it once the running one ends."""
        if self._manager is None:
            self._manager = self._lifecycle("active", 30.0)
            self._manage_again = False
        else:
            self._manage_again = True

    def _poll_manager(self) -> None:
        if self._manager is None or (code := self._manager.poll()) is None:
            return
        self._manager = None
        if code != 0:
            logger.warning(f"the managed nodes {self.managed} were not activated (exit {code})")
        if self._manage_again:
            self._manage()

    def _start(self, child: Child) -> None:
        if child.spec.name in self.managed:
            self._manage()
        env = self.env if child.spec.publishes_images else small_messages_environment(self.env)
        # Own session: a terminal's Ctrl-C reaches bringup only, which stops children in order.
        if self.log_dir is None:
            child.process = subprocess.Popen(
                child.command, env=env, start_new_session=True, preexec_fn=_die_with_parent
            )
            logger.info(f"started {child.spec.name} (pid {child.process.pid})")
            return
        with (self.log_dir / f"{child.spec.name}.log").open("ab") as log:
            child.process = subprocess.Popen(
                child.command,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    def _on_exit(self, child: Child, code: int, now: float) -> str | None:
        """Handle a child that exited; return a failure reason to give up, else None."""
        name = child.spec.name
        self.exits.append((name, code))
        if code == EXIT_NEEDS_OPERATOR:
            child.next_start = float("inf")
            logger.warning(
                f"{name} exited with code {code}: it needs an operator (see its log); "
                "not respawned"
            )
            return None
        if code in NO_RESPAWN:
            self.exit_code = EXIT_USAGE
            said = self._last_line(child)
            return (
                f"{name} cannot start with this configuration (exit code {code}; not "
                f"respawned: it would fail the same way again)" + (f": {said}" if said else "")
            )
        self.exit_code = EXIT_FAILED  # if this is the end
        if not child.spec.respawn:
            return f"{name} exited with code {code} and does not respawn"
        child.restarts = [t for t in child.restarts if now - t < self.restart_window_s] + [now]
        if len(child.restarts) > self.max_restarts:
            return (
                f"{name} failed {len(child.restarts)} times within "
                f"{self.restart_window_s:.0f} s (last exit code {code})"
            )
        delay = min(self.backoff_max_s, self.backoff_s * 2 ** (len(child.restarts) - 1))
        child.next_start = now + delay
        logger.warning(f"{name} exited with code {code}; respawning in {delay:.1f} s")
        return None

    def _last_line(self, child: Child) -> str:
        """The last line the child wrote to its log (with ``log_dir``), to say why it stopped."""
        if self.log_dir is None:
            return ""  # it wrote to this terminal already
        try:
            lines = (self.log_dir / f"{child.spec.name}.log").read_text(errors="replace")
        except OSError:
            return ""
        found = [line for line in lines.splitlines() if line.strip()]
        return found[-1].strip() if found else ""

    def start(self) -> None:
        """Start every node."""
        for child in self.children:
            self._start(child)

    def poll(self) -> str | None:
        """Reap and respawn children; return a reason to give up, or None while all is well."""
        now = time.monotonic()
        self._poll_manager()
        for child in self.children:
            if child.process is None:
                if now >= child.next_start:
                    self._start(child)
                continue
            code = child.process.poll()
            if code is not None:
                child.process = None
                failure = self._on_exit(child, code, now)
                if failure:
                    return failure
        return None

    def run(self, duration_s: float | None = None) -> int:
        """Supervise until a signal, ``duration_s`` elapsed, or a node keeps failing."""
        previous = {
            s: signal.signal(s, self.request_stop) for s in (signal.SIGINT, signal.SIGTERM)
        }
        failure: str | None = None
        deadline = None if duration_s is None else time.monotonic() + duration_s
        try:
            self.start()
            while not self._stop_requested and failure is None:
                if deadline is not None and time.monotonic() >= deadline:
                    break
                failure = self.poll()
                time.sleep(0.1)
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if failure:
            logger.error(f"giving up: {failure}")
            return self.exit_code or EXIT_FAILED
        return 0

    def stop(self) -> None:
        """Deactivate the managed nodes, then stop every child: SIGINT, then SIGTERM, then
        SIGKILL; clean zombie SHM files."""
        self._deactivate()
        running = [c.process for c in self.children if c.process is not None]
        for sig, wait_s in (
            (signal.SIGINT, self.stop_timeout_s),
            (signal.SIGTERM, 3.0),
            (signal.SIGKILL, 3.0),
        ):
            running = [p for p in running if p.poll() is None]
            for proc in running:
                proc.send_signal(sig)
            end = time.monotonic() + wait_s
            while running and time.monotonic() < end:
                running = [p for p in running if p.poll() is None]
                time.sleep(0.05)
        for child in self.children:
            child.process = None
        clean_shared_memory(self.env)

    def _deactivate(self) -> None:
        """Deactivate the running managed nodes (release the camera) before they are stopped."""
        if self._manager is not None:
            self._manager.kill()
            self._manager.wait()
            self._manager = None
        alive = [
            c
            for c in self.children
            if c.spec.name in self.managed and c.process and c.process.poll() is None
        ]
        if not alive:
            return
        helper = self._lifecycle("inactive", self.stop_timeout_s)
        try:
            helper.wait(timeout=self.stop_timeout_s + 5.0)  # its own start, then its timeout
        except subprocess.TimeoutExpired:
            helper.kill()
            helper.wait()


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if bringup itself dies (no orphans)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _mapped_files() -> set[str]:
    """Every file some process on this host has mapped (``/proc/<pid>/maps``; readable ones)."""
    found: set[str] = set()
    for maps in Path("/proc").glob("[0-9]*/maps"):
        try:
            text = maps.read_text(errors="replace")
        except OSError:  # gone, or another user's
            continue
        found.update(
            line.split(None, 5)[5]
            for line in text.splitlines()
            if line.count(" ") >= 5 and "/fastdds_port" in line
        )
    return found


def clean_port_files(shm_dir: Path = Path("/dev/shm"), settle_s: float = 0.2) -> list[str]:
    """Remove Fast DDS port files (``fastdds_port<N>`` and ``sem.fastdds_port<N>_mutex``) no
    process maps any more; return their names.

    ``fastdds shm clean`` removes a port only through its lock file (``_el``/``_sl``); a port
    whose lock file is already gone stays behind with its semaphore. Ports with a lock file are
    left to that tool. A port is removed only when it is unmapped and unlocked twice,
    ``settle_s`` apart, so a process that is opening it right now keeps it.
    """

    def unused() -> set[Path]:
        mapped = _mapped_files()
        return {
            port
            for port in shm_dir.glob("fastdds_port*")
            if port.name.removeprefix("fastdds_port").isdigit()
            and not any((shm_dir / f"{port.name}{s}").exists() for s in ("_el", "_sl"))
            and not {str(port), str(shm_dir / f"sem.{port.name}_mutex")} & mapped
        }

    candidates = unused()
    if candidates:
        time.sleep(settle_s)
        candidates &= unused()
    for port in candidates:
        port.unlink(missing_ok=True)
        (shm_dir / f"sem.{port.name}_mutex").unlink(missing_ok=True)
    return sorted(p.name for p in candidates)


def clean_shared_memory(env: dict[str, str]) -> None:
    """Remove Fast DDS shared-memory files left by dead processes (``fastdds shm clean``, then
    :func:`clean_port_files`).

    Only files whose lock no live process holds, or that no process maps, are removed, so
    other graphs are untouched.
    """
    # The tool is a shell script that runs `python3`: put this interpreter (with psutil) first.
    path = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
    tool = shutil.which("fastdds", path=path)
    if tool is not None:
        subprocess.run(
            [tool, "shm", "clean"],
            env={**env, "PATH": path},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
            timeout=30,
        )
    clean_port_files()


def run_composed(
    specs: Sequence[NodeSpec],
    params_file: Path | Sequence[Path],
    namespace: str = "",
    use_sim_time: bool = False,
) -> int:
    """Run every node in this process on one SingleThreadedExecutor.

    Its nodes share one DDS participant, which delivers between them inside the process, so
    the process gets the small shared-memory segment: only subscribers in other processes
    (a bag recorder) read from it.
    """
    from wildcam.ros.runner import spin_nodes  # rclpy only when composed

    os.environ.update(small_messages_environment(os.environ))
    files = [params_file] if isinstance(params_file, Path) else list(params_file)
    args = [sys.argv[0], "--ros-args"]
    for path in files:
        args += ["--params-file", str(path)]
    if namespace:
        args += ["-r", f"__ns:={namespace if namespace.startswith('/') else '/' + namespace}"]
    if use_sim_time:
        args += ["-p", "use_sim_time:=true"]
    return spin_nodes([s.node_type() for s in specs], args)


def default_params_file() -> Path:
    """The package's ``config/wildcam.yaml``."""
    return config_dir() / "wildcam.yaml"


def select(names: Sequence[str] | None, extra: Sequence[str] = ()) -> list[NodeSpec]:
    """The node-table entries named (when ``names`` is empty: all but the on-request ones),
    plus the ``extra`` ones (e.g. ``pir_trigger`` on a trap with a PIR).

    A name that is no node of the table is a :class:`~wildcam.errors.ConfigError`.
    """
    check_node_names(names or (), "--nodes")
    check_node_names(extra, "--with")
    specs = (
        [spec for spec in NODES if spec.name in names]
        if names
        else [spec for spec in NODES if not spec.on_request]
    )
    return specs + [node(n) for n in extra if node(n) not in specs]


def own_queue_params(values: dict[str, dict[str, object]], state_dir: Path) -> Path | None:
    """A parameters file giving the uploader a queue of this bringup's own, in ``state_dir``.

    ``values`` are the checked parameters (node -> values); when they name no
    ``uploader.queue_dir`` (the default queue would be shared by every run on the machine),
    the queue goes to ``state_dir/queue`` (updates, unless ``ota_dir`` is given, beside it).
    None when a queue directory is given.
    """
    import yaml

    if values.get("uploader", {}).get("queue_dir"):
        return None
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "queue_params.yaml"
    path.write_text(
        yaml.safe_dump(
            {"/**/uploader": {"ros__parameters": {"queue_dir": str(state_dir / "queue")}}}
        )
    )
    return path
