"""``plutflow deploy``: copy an artifact (and the overlay) to a board over SSH, verify the
checksums on the board, run the board self-test there and report.

Uses the system OpenSSH client (``ssh``) in batch mode with strict host-key checking: an
unknown or changed host key stops the deployment. Files travel over ssh's standard input.
"""

from __future__ import annotations

import hashlib
import shlex
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from plutflow.errors import PlutflowError


class DeployError(PlutflowError):
    """Copying, verification or the remote self-test failed."""


class SshTimeout(DeployError):
    """An ssh command ran past :attr:`SshTarget.timeout_s` (the local client was killed)."""


#: The board-side file holding the running self-test's process id (its process group).
SELFTEST_PID = ".plutflow-selftest.pid"


@dataclass
class SshTarget:
    board: str  # user@host
    port: int = 22
    identity: str | None = None
    known_hosts: str | None = None
    timeout_s: float = 600.0

    def options(self) -> list[str]:
        opts = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=20"]
        if self.identity:
            opts += ["-i", self.identity, "-o", "IdentitiesOnly=yes"]
        if self.known_hosts:
            opts += ["-o", f"UserKnownHostsFile={self.known_hosts}"]
        return opts

    def ssh(
        self, command: str, check: bool = True, stdin: bytes | None = None
    ) -> subprocess.CompletedProcess:
        """Run ``command`` (already quoted for the board's shell) on the board."""
        argv = ["ssh", *self.options(), "-p", str(self.port), "--", self.board, command]
        try:
            proc = subprocess.run(argv, input=stdin, capture_output=True,
                                  timeout=self.timeout_s)  # fmt: skip
        except FileNotFoundError:
            raise DeployError("ssh is not installed here (install the OpenSSH client)") from None
        except subprocess.TimeoutExpired:
            raise SshTimeout(f"ssh {self.board} timed out after {self.timeout_s:.0f} s "
                              f"running: {command}") from None  # fmt: skip
        out = proc.stdout.decode(errors="replace")
        err = proc.stderr.decode(errors="replace")
        if check and proc.returncode != 0:
            raise DeployError(
                f"ssh {self.board} '{command}' failed ({proc.returncode}): "
                f"{err.strip() or out.strip()}"
            )
        return subprocess.CompletedProcess(argv, proc.returncode, out, err)

    def upload(self, path: Path, remote: str) -> None:
        """Copy ``path`` to the quoted remote path ``remote`` through ssh's stdin: no
        local path on a command line, no remote path interpreted twice (scp's legacy
        protocol runs its destination through the board's shell)."""
        self.ssh(f"cat > {remote}", stdin=path.read_bytes())


def stop_selftest(target: SshTarget, rdir: str) -> str:
    """Stop the self-test whose pid ``rdir``/:data:`SELFTEST_PID` holds: SIGTERM to its
    process group (plutflow cleans up on SIGTERM), SIGKILL after 5 s. Says what happened."""
    pid = f"$(cat -- {SELFTEST_PID} 2>/dev/null)"
    script = (
        f'cd -- {rdir} && p={pid} && [ -n "$p" ] && '
        'kill -TERM -- "-$p" 2>/dev/null; '
        'for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 -- "-$p" 2>/dev/null || break; sleep 0.5; done; '
        'kill -KILL -- "-$p" 2>/dev/null; '
        f'rm -f -- {SELFTEST_PID}; echo "$p"'
    )
    try:
        out = replace(target, timeout_s=30.0).ssh(script, check=False).stdout.strip()
    except DeployError as exc:
        return f"could not stop it: {exc}"
    return f"stopped it on the board (process group {out})" if out else "it had ended"


def remote_path(path: str, name: str | None = None) -> str:
    """``path`` (and a file ``name`` in it) quoted for the board's shell; a leading
    ``~`` means the remote home directory, as a user expects."""
    if path == "~" or path.startswith("~/"):
        head, rest = '"$HOME"', path[2:]
    else:
        head, rest = "", path
    parts = [p for p in (rest, name) if p]
    tail = "/".join(shlex.quote(p) for p in parts)
    return f"{head}/{tail}" if head and tail else (head or tail)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def deploy(
    target: SshTarget,
    artifact: Path,
    remote_dir: str,
    bitfile: Path | None = None,
    backend: str = "pynq",
    remote_python: str = "python3",
    images: int = 16,
    log=print,
) -> int:
    """Copy, verify, self-test. Returns the remote self-test's exit code.

    Every remote word is quoted (``remote_python`` is one word: a path or a command
    name); files go up under temporary names and replace the board's copies only after
    their SHA-256 matches, so an interrupted upload leaves the working artifact intact."""
    files = [Path(artifact)]
    if bitfile is not None:
        bit = Path(bitfile)
        files += [bit, bit.with_suffix(".hwh")]
    for f in files:
        if not f.is_file():
            raise DeployError(f"{f} not found")
    q = shlex.quote
    rdir = remote_path(remote_dir)
    target.ssh(f"mkdir -p -- {rdir}")
    # upload under temporary names; rename over the working files only once verified
    temps = {f: f".{f.name}.uploading" for f in files}
    for f, tmp in temps.items():
        target.upload(f, remote_path(remote_dir, tmp))
    log(f"copied {', '.join(f.name for f in files)} to {target.board}:{remote_dir}")
    names = " ".join(q(t) for t in temps.values())
    out = target.ssh(f"cd -- {rdir} && sha256sum -- {names}").stdout
    remote = {}
    for line in out.splitlines():
        digest, _, name = line.strip().partition(" ")  # "<hex>  <name>" or "<hex> *<name>"
        remote[name.lstrip(" *")] = digest
    bad = [f.name for f, tmp in temps.items() if remote.get(tmp) != sha256(f)]
    if bad:
        target.ssh(f"cd -- {rdir} && rm -f -- {names}", check=False)
        raise DeployError(f"checksum mismatch on the board for {', '.join(bad)}")
    moves = " && ".join(f"mv -f -- {q(t)} {q(f.name)}" for f, t in temps.items())
    target.ssh(f"cd -- {rdir} && {moves}")
    log(f"checksums verified on the board ({len(files)} files, SHA-256)")
    # the shell records its pid (sshd made it a process group leader) and becomes the
    # self-test, so a timeout here can stop the self-test and everything it started
    cmd = (
        f"cd -- {rdir} && echo $$ > {SELFTEST_PID} && exec {q(remote_python)} -m plutflow "
        f"selftest --artifact {q(files[0].name)} --backend {q(backend)} --images {int(images)}"
    )
    if bitfile is not None:
        cmd += f" --bitfile {q(files[1].name)}"
    try:
        proc = target.ssh(cmd, check=False)
    except SshTimeout:
        raise DeployError(f"the board self-test ran past {target.timeout_s:g} s; "
                          f"{stop_selftest(target, rdir)}") from None  # fmt: skip
    target.ssh(f"cd -- {rdir} && rm -f -- {SELFTEST_PID}", check=False)
    for line in (proc.stdout + proc.stderr).splitlines():
        log(f"[board] {line}")
    return proc.returncode
