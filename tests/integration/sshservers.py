# SPDX-License-Identifier: Apache-2.0
"""OpenSSH's sshd on loopback for the SFTP integration tests: Sshd, SshAgent and TempUser.

    ok = Sshd.available()                 # false with .reason (not root, sshd missing)
    if not ok:
        self.skipTest(ok.reason)
    with Sshd(os.path.join(workdir, "sshd")) as sshd:
        home = sshd.make_home(os.path.join(workdir, "home"))   # for backup-tool: HOME=home
        env = dict(os.environ, HOME=home)
        location = sshd.location("/abs/vault")  # sftp:root@127.0.0.1:PORT:/abs/vault
        url = sshd.url("/abs/vault")            # sftp://root@127.0.0.1:PORT//abs/vault
        restic_flags = ["-o", "sftp.command=" + sshd.ssh_command()]

Sshd is Debian's /usr/sbin/sshd (OpenSSH 9.2) in the foreground (-D) with a config of its own
(-f; nothing of /etc/ssh is read): its own ed25519 host key, one authorized_keys file for
every account, internal-sftp, UsePAM no, PermitRootLogin yes, password logins only when
asked for, log level VERBOSE into sshd.log. It makes a client key pair, the known_hosts line
of "[127.0.0.1]:PORT" and an OpenSSH client config (for ssh, sftp, restic and rclone).

Why root: sshd's privilege separation needs root (its unprivileged child chroots into
/run/sshd as user sshd) and only root can switch to the user who logs in. The tests run as
root in CI; available() says so when they do not. Password logins need a real account with a
password in /etc/shadow (UsePAM no: sshd checks it itself): TempUser makes one and removes it.

Every connection is served by two processes, children of the listener (OpenSSH 9.2):
"sshd: USER [priv]" (the privileged monitor) and its child "sshd: USER@notty" (the session,
which runs internal-sftp). kill_sessions() kills both, so the client's TCP connection drops
as when a link or server fails, while the listener stays up for the reconnect.

Timings on a busy 2-core machine: start 0.1-0.3 s (key generation included), stop < 0.1 s.
"""

import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from s3servers import (Availability, Fixture, ServerError, _PortBlock, _Reaper, _spawn,  # noqa: E402
                       _stop, _tail)

SSHD = "/usr/sbin/sshd"
PRIVSEP_DIR = "/run/sshd"
SFTP_SERVER = "/usr/lib/openssh/sftp-server"
HOST = "127.0.0.1"
HOST6 = "::1"
# The Host alias of the client configs that Sshd writes.
ALIAS = "halley-sshd"


def _which(name):
    """A program's path: PATH first, then the sbin directories a non-login PATH may lack."""
    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)), None)


def make_key(path, comment="halley-test"):
    """Writes an ed25519 key pair without a passphrase (`path`, `path`.pub, mode 0600);
    returns the public key line ("ssh-ed25519 AAAA... comment")."""
    for p in (path, path + ".pub"):
        if os.path.exists(p):
            os.remove(p)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path],
                   check=True, capture_output=True, stdin=subprocess.DEVNULL)
    with open(path + ".pub") as f:
        return f.read().strip()


def _write(path, text, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def _children():
    """{ppid: [pid...]} of every process, from /proc."""
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name (2nd field) is in parentheses and may hold spaces.
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        out.setdefault(ppid, []).append(int(pid))
    return out


def _descendants(pid):
    """PIDs of every descendant of `pid`, parents before children."""
    kids, out, todo = _children(), [], [pid]
    while todo:
        for c in kids.get(todo.pop(0), []):
            out.append(c)
            todo.append(c)
    return out


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


class Sshd(Fixture):
    """OpenSSH's sshd on 127.0.0.1 at a free port, everything under `directory`.

    `password_auth` turns on PasswordAuthentication (for TempUser accounts); `sftp_server`
    is "internal-sftp" (the session process serves SFTP itself) or the path of
    /usr/lib/openssh/sftp-server (a separate process per session). After start():

      port, host_pub (the host's public key line), known_hosts (a file with its
      "[127.0.0.1]:PORT" line), client_key / client_pub (a key pair in authorized_keys),
      ssh_config (an OpenSSH client config: Host halley-sshd, and for every host that key,
      that known_hosts file, StrictHostKeyChecking yes, BatchMode yes), log_path."""

    def __init__(self, directory, password_auth=False, sftp_server="internal-sftp",
                 ipv6=False, timeout=30):
        self.dir = os.path.abspath(directory)
        self.password_auth = password_auth
        self.ipv6 = ipv6
        self.sftp_server = sftp_server
        self.timeout = timeout
        self.port = None
        self.proc = None
        self.startup_seconds = None
        self._reaper = None
        j = lambda name: os.path.join(self.dir, name)  # noqa: E731
        self.config = j("sshd_config")
        self.host_key = j("host_ed25519")
        self.client_key = j("client_ed25519")
        self.authorized_keys = j("authorized_keys")
        self.known_hosts = j("known_hosts")
        self.ssh_config = j("ssh_config")
        self.log_path = j("sshd.log")
        self.pid_file = j("sshd.pid")
        self.host_pub = self.client_pub = None

    @staticmethod
    def available():
        """False, with the reason, when sshd cannot run here (not root, a program missing)."""
        if os.geteuid() != 0:
            return Availability("sshd's privilege separation and logins as other users need "
                                "root (the tests run as root in CI)")
        missing = [p for p in (SSHD,) if not os.access(p, os.X_OK)]
        missing += [p for p in ("ssh", "sftp", "ssh-keygen", "ssh-keyscan", "ssh-agent",
                                "ssh-add") if not shutil.which(p)]
        if missing:
            return Availability(f"missing {' '.join(missing)} (run scripts/install-deps: "
                                "openssh-server, openssh-client)")
        return Availability()

    # --- lifecycle (start(), a context manager: Fixture); ready once sshd sends its banner
    def _start(self, deadline):
        ok = self.available()
        if not ok:
            raise ServerError(ok.reason)
        os.makedirs(self.dir, exist_ok=True)
        # Accounts other than root read authorized_keys as themselves.
        os.chmod(self.dir, 0o755)
        # The privilege-separation directory: sshd refuses to start without it, and Debian
        # makes it only when its service starts (root-owned, not group- or world-writable).
        os.makedirs(PRIVSEP_DIR, mode=0o755, exist_ok=True)
        self.host_pub = make_key(self.host_key, "halley-test-host")
        self.client_pub = make_key(self.client_key, "halley-test-client")
        _write(self.authorized_keys, self.client_pub + "\n", 0o644)
        ports, v6 = self._ports()
        self.port = ports.base
        _write(self.config, self._sshd_config())
        _write(self.known_hosts, "".join(l + "\n" for l in self.known_hosts_lines()), 0o644)
        _write(self.ssh_config, self.client_config(self.client_key, self.known_hosts))
        # The config is checked before the port is handed over: a mistake here is reported
        # as itself, not as a server that never answered.
        r = subprocess.run([SSHD, "-t", "-f", self.config], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise ServerError(f"sshd -t rejected {self.config}:\n{r.stdout}{r.stderr}")
        ports.release()
        if v6:
            v6.close()
        self._reaper = _Reaper(self.config)
        self.proc = _spawn([SSHD, "-D", "-e", "-f", self.config], self.log_path, self._reaper)
        while not self._answers():
            if self.proc.poll() is not None:
                raise ServerError(f"sshd exited with {self.proc.returncode}:\n"
                                  f"{_tail(self.log_path)}")
            if time.monotonic() > deadline:
                raise ServerError(f"timeout waiting for sshd on port {self.port}:\n"
                                  f"{_tail(self.log_path)}")
            time.sleep(0.02)

    def _ports(self):
        """A free port (held by a bound socket until sshd starts), free on ::1 as well when
        ipv6 is asked for; returns (_PortBlock, the ::1 socket or None)."""
        for _ in range(50):
            ports = _PortBlock(1)
            if not self.ipv6:
                return ports, None
            s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            try:
                s6.bind((HOST6, ports.base))
                return ports, s6
            except OSError:
                s6.close()
                ports.release()
        raise ServerError("no port free on both 127.0.0.1 and ::1")

    @staticmethod
    def ipv6_available():
        """Whether the loopback interface has ::1 (containers may lack IPv6)."""
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
                s.bind((HOST6, 0))
            return True
        except OSError:
            return False

    def _sshd_config(self):
        listen = [f"ListenAddress {HOST}:{self.port}"]
        if self.ipv6:
            listen.append(f"ListenAddress [{HOST6}]:{self.port}")
        return "\n".join(listen + [
            f"AddressFamily {'any' if self.ipv6 else 'inet'}",
            f"HostKey {self.host_key}",
            f"PidFile {self.pid_file}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            "AuthorizedPrincipalsFile none",
            # The files live in a temporary directory that sshd would otherwise refuse.
            "StrictModes no",
            "UsePAM no",
            "PermitRootLogin yes",
            "PubkeyAuthentication yes",
            f"PasswordAuthentication {'yes' if self.password_auth else 'no'}",
            "PermitEmptyPasswords no",
            # Without PAM, keyboard-interactive has no password method on Linux.
            "KbdInteractiveAuthentication no",
            "HostbasedAuthentication no",
            "GSSAPIAuthentication no",
            f"Subsystem sftp {self.sftp_server}",
            "LogLevel VERBOSE",
            "UseDNS no",
            "PrintMotd no",
            "PrintLastLog no",
            "X11Forwarding no",
            "AllowTcpForwarding no",
            "AllowAgentForwarding no",
            "PermitTunnel no",
            "AcceptEnv none",
            # Tests open many connections at once (sftp.connections, restic, the ready probe).
            "MaxStartups 200",
            "MaxSessions 50",
            "MaxAuthTries 20",
            "LoginGraceTime 60",
            "",
        ])

    def client_config(self, identity, known_hosts, user="root"):
        """An OpenSSH client config: Host halley-sshd is this server (HostName, Port, User);
        for every host: `identity` (None: none), `known_hosts`, strict checking, no prompts."""
        lines = [f"Host {ALIAS}", f"    HostName {HOST}", f"    Port {self.port}",
                 f"    User {user}", "Host *"]
        if identity:
            lines += [f"    IdentityFile {identity}", "    IdentitiesOnly yes"]
        lines += [f"    UserKnownHostsFile {known_hosts}",
                  "    GlobalKnownHostsFile /dev/null",
                  "    StrictHostKeyChecking yes",
                  "    UpdateHostKeys no",
                  "    BatchMode yes",
                  # No LogLevel: libssh (backup-tool with -o sftp.config) would turn its own
                  # logging to stderr on.
                  ""]
        return "\n".join(lines)

    def _answers(self):
        """Whether sshd accepts a connection and sends its "SSH-2.0-" banner."""
        try:
            with socket.create_connection((HOST, self.port), timeout=2) as s:
                return s.recv(256).startswith(b"SSH-2.0-")
        except OSError:
            return False

    def stop(self):
        """Stops the connections sshd still serves, then the listener (SIGTERM ends only the
        listener: sessions would outlive it). Sessions go first, children before parents,
        each reaped by its parent before the parent goes, so that init inherits no zombie."""
        deadline = time.monotonic() + 5
        for pid in reversed(self.session_pids()):
            if not _cmdline(pid).startswith(("sshd:", SSHD, SFTP_SERVER)):
                continue
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
                time.sleep(0.01)
        _stop(self.proc)
        self.proc = None
        if self._reaper:
            self._reaper.close()
            self._reaper = None

    # --- addresses and client files
    def known_hosts_line(self, pub=None, host=HOST):
        """The known_hosts line of this server ("[127.0.0.1]:PORT ssh-ed25519 AAAA..."),
        with the key `pub` (a public key line) instead of the server's when given."""
        keytype, b64 = (pub or self.host_pub).split()[:2]
        return f"[{host}]:{self.port} {keytype} {b64}"

    def known_hosts_lines(self, pub=None):
        """The known_hosts lines for every address sshd listens on (127.0.0.1, ::1)."""
        return [self.known_hosts_line(pub, h) for h in ([HOST, HOST6] if self.ipv6 else [HOST])]

    def authorize(self, pub):
        """Adds a public key line to authorized_keys (read at every login)."""
        with open(self.authorized_keys, "a") as f:
            f.write(pub.strip() + "\n")

    def location(self, path, user="root", host=HOST):
        """backup-tool's sftp:USER@HOST:PORT:PATH (PATH relative to the home unless '/');
        an IPv6 `host` is put in brackets."""
        if ":" in host:
            host = f"[{host}]"
        return f"sftp:{user}@{host}:{self.port}:{path}"

    def url(self, path, user="root", host=HOST):
        """The URL form sftp://USER@HOST:PORT/PATH (restic's): "/abs" gives "//abs"."""
        if ":" in host:
            host = f"[{host}]"
        return f"sftp://{user}@{host}:{self.port}/{path}"

    def ssh_command(self, user="root", identity=None):
        """The ssh command restic runs with -o sftp.command=...: this server's client config,
        the port and user, the SFTP subsystem. restic splits it like a shell would."""
        argv = ["ssh", "-F", self.ssh_config, "-p", str(self.port)]
        if identity:
            argv += ["-i", identity]
        argv += [f"{user}@{HOST}", "-s", "sftp"]
        return " ".join(shlex.quote(a) for a in argv)

    def make_home(self, home, identity=True, known_hosts=True, config=True, key=None,
                  known_hosts_lines=None, config_text=None):
        """Makes `home` a home directory for backup-tool (run it with HOME=home) and returns
        its path. Its .ssh (0700) holds, as asked:
          id_ed25519 (+.pub): a copy of `key` (default: the authorized client key);
          known_hosts: `known_hosts_lines` (default: this server's line; [] for empty);
          config: `config_text` (default: Host halley-sshd with HostName, Port, User)."""
        ssh_dir = os.path.join(home, ".ssh")
        os.makedirs(ssh_dir, exist_ok=True)
        os.chmod(home, 0o755)
        os.chmod(ssh_dir, 0o700)
        if identity:
            src = key or self.client_key
            shutil.copyfile(src, os.path.join(ssh_dir, "id_ed25519"))
            os.chmod(os.path.join(ssh_dir, "id_ed25519"), 0o600)
            shutil.copyfile(src + ".pub", os.path.join(ssh_dir, "id_ed25519.pub"))
        if known_hosts:
            lines = self.known_hosts_lines() if known_hosts_lines is None else known_hosts_lines
            _write(os.path.join(ssh_dir, "known_hosts"), "".join(l + "\n" for l in lines), 0o644)
        if config:
            text = config_text if config_text is not None else "\n".join(
                [f"Host {ALIAS}", f"    HostName {HOST}", f"    Port {self.port}",
                 "    User root", ""])
            _write(os.path.join(ssh_dir, "config"), text)
        return home

    def ssh(self, *args, user="root", host=HOST, env=None, timeout=60, input=None):
        """Runs ssh to this server with its client config; returns the CompletedProcess."""
        return subprocess.run(["ssh", "-F", self.ssh_config, "-p", str(self.port),
                               f"{user}@{host}", *args], capture_output=True, env=env,
                              timeout=timeout, input=input,
                              stdin=None if input is not None else subprocess.DEVNULL)

    def sftp(self, commands, user="root", host=HOST, env=None, timeout=60):
        """Runs `sftp -b -` with `commands` (a list of lines) as `user`; returns the
        CompletedProcess (text). sftp -b stops at the first command that fails."""
        if ":" in host:
            host = f"[{host}]"
        return subprocess.run(["sftp", "-F", self.ssh_config, "-P", str(self.port), "-b", "-",
                               f"{user}@{host}"], input="\n".join(commands) + "\n",
                              capture_output=True, text=True, env=env, timeout=timeout)

    # --- connections
    def session_pids(self):
        """PIDs of the processes serving connections (every descendant of the listener)."""
        if not self.proc or self.proc.poll() is not None:
            return []
        return _descendants(self.proc.pid)

    def wait_idle(self, timeout=20):
        """Waits until no connection is being served (clients that just exited may leave
        their session processes for a moment); returns whether that happened in time."""
        deadline = time.monotonic() + timeout
        while self.session_pids():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def stop_sessions(self):
        """SIGSTOPs every connection's processes: the client's transfers stall with the
        connection still open (the window fills). Returns the PIDs."""
        return self._signal_sessions(signal.SIGSTOP)

    def kill_sessions(self):
        """SIGKILLs every connection's processes (stopped ones too): the kernel closes their
        sockets and the clients see the connection drop; the listener stays up. Returns the
        PIDs that were killed. (A session's SFTP child dies with its parent, so init, not
        sshd, reaps it: a zombie may show for a while.)"""
        return self._signal_sessions(signal.SIGKILL)

    def _signal_sessions(self, sig):
        done = []
        for pid in self.session_pids():
            # Only sshd's own processes (internal-sftp runs inside them; an sftp-server
            # child dies with its parent's pipes).
            if not _cmdline(pid).startswith(("sshd:", SSHD, SFTP_SERVER)):
                continue
            try:
                os.kill(pid, sig)
                done.append(pid)
            except ProcessLookupError:
                pass
        return done

    def log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def accepted(self, method=None):
        """sshd's "Accepted METHOD for USER from ..." lines so far (one per login)."""
        return [l for l in self.log().splitlines()
                if "Accepted " in l and (method is None or f"Accepted {method} " in l)]

    def logs(self, lines=40):
        return f"--- {self.log_path}\n{_tail(self.log_path, lines)}"


# ---------------------------------------------------------------------------------------------
# ssh-agent


class SshAgent:
    """ssh-agent in the foreground (-D) on the socket `directory`/agent.sock."""

    def __init__(self, directory):
        self.dir = os.path.abspath(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.sock = os.path.join(self.dir, "agent.sock")
        self.proc = None
        self._reaper = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self._reaper = _Reaper(self.sock)
        self.proc = _spawn(["ssh-agent", "-D", "-a", self.sock],
                           os.path.join(self.dir, "agent.log"), self._reaper)
        deadline = time.monotonic() + 20
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise ServerError("ssh-agent did not start:\n"
                                  + _tail(os.path.join(self.dir, "agent.log")))
            time.sleep(0.02)
        return self

    def env(self):
        return {"SSH_AUTH_SOCK": self.sock}

    def add(self, key):
        """ssh-add `key`; raises ServerError if the agent refuses it."""
        r = subprocess.run(["ssh-add", key], capture_output=True, text=True,
                           env=dict(os.environ, **self.env()), stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise ServerError(f"ssh-add {key} failed:\n{r.stdout}{r.stderr}")

    def keys(self):
        r = subprocess.run(["ssh-add", "-L"], capture_output=True, text=True,
                           env=dict(os.environ, **self.env()), stdin=subprocess.DEVNULL)
        return [l for l in r.stdout.splitlines() if l.startswith("ssh-")]

    def stop(self):
        _stop(self.proc)
        self.proc = None
        if self._reaper:
            self._reaper.close()
            self._reaper = None


# ---------------------------------------------------------------------------------------------
# Temporary accounts (password logins)

# Removes the account if this process dies without doing so: reads "clear" (removed already)
# or reaches the end of its input (our death) and then runs userdel.
_USER_REAPER = r"""
import subprocess, sys
name, userdel = sys.argv[1], sys.argv[2]
cleared = False
for line in sys.stdin:
    cleared = cleared or line.strip() == "clear"
if not cleared:
    subprocess.run([userdel, "-f", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
"""


class TempUser:
    """A system account halley-sftp-XXXXXXXX with a random password and its home directory
    at `home` (made by useradd -m; must not exist yet), for sshd's password logins. Root only
    (available() says why not). Removed with userdel on stop(), at exit, and by a watcher
    process if this one is killed."""

    PREFIX = "halley-sftp-"

    def __init__(self, home, password=None):
        self.home = os.path.abspath(home)
        self.name = self.PREFIX + secrets.token_hex(4)
        # Distinctive, so that a leak in any output cannot be a coincidence.
        self.password = password or "Sftp-pw-" + secrets.token_urlsafe(15)
        self.uid = self.gid = None
        self._watcher = None

    @staticmethod
    def available():
        if os.geteuid() != 0:
            return Availability("making a temporary account for password logins needs root "
                                "(the tests run as root in CI)")
        missing = [n for n in ("useradd", "userdel", "chpasswd") if not _which(n)]
        if missing:
            return Availability(f"missing {' '.join(missing)} (package passwd)")
        return Availability()

    def __enter__(self):
        return self.create()

    def __exit__(self, *exc):
        self.remove()

    def create(self):
        ok = self.available()
        if not ok:
            raise ServerError(ok.reason)
        os.makedirs(os.path.dirname(self.home), exist_ok=True)
        self._watcher = subprocess.Popen([sys.executable, "-c", _USER_REAPER, self.name,
                                          _which("userdel")], stdin=subprocess.PIPE,
                                         stdout=subprocess.DEVNULL, start_new_session=True,
                                         text=True)
        try:
            self._run(_which("useradd"), "-m", "-d", self.home, "-s", "/bin/sh",
                      "-K", "UMASK=022", "-c", "halley sftp test", self.name)
            self._run(_which("chpasswd"), input=f"{self.name}:{self.password}\n")
        except BaseException:
            self.remove()
            raise
        import pwd
        pw = pwd.getpwnam(self.name)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        return self

    @staticmethod
    def _run(*argv, input=None):
        r = subprocess.run(argv, input=input, capture_output=True, text=True)
        if r.returncode != 0:
            # chpasswd's input holds the password: only the command name is shown.
            raise ServerError(f"{os.path.basename(argv[0])} failed ({r.returncode}): "
                              f"{r.stderr.strip()}")

    def remove(self):
        """userdel -f (even with sessions left); the home directory is the caller's to remove
        (it usually lies in the test's Workdir)."""
        if self._watcher is None:
            return
        subprocess.run([_which("userdel"), "-f", self.name], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        try:
            self._watcher.stdin.write("clear\n")
            self._watcher.stdin.close()
        except OSError:
            pass
        self._watcher.wait()
        self._watcher = None


def askpass_env(directory, password):
    """Environment for OpenSSH's ssh to answer a password prompt with `password` without a
    terminal (SSH_ASKPASS_REQUIRE=force, OpenSSH >= 8.4), for checking password logins."""
    script = os.path.join(directory, "askpass.sh")
    _write(script, "#!/bin/sh\nprintf '%s\\n' " + shlex.quote(password) + "\n", 0o700)
    return {"SSH_ASKPASS": script, "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"}


# ---------------------------------------------------------------------------------------------
# Self-test: python3 tests/integration/sshservers.py


def _check(cond, what, detail=""):
    if not cond:
        raise ServerError(f"self-test: {what}\n{detail}")


def _self_test():
    ok = Sshd.available()
    if not ok:
        print("sshservers: skipped:", ok.reason)
        return 0
    base = tempfile.mkdtemp(prefix="sshservers-")
    os.chmod(base, 0o755)
    restic_env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
    restic_env.update(RESTIC_PASSWORD="self-test", RESTIC_CACHE_DIR=os.path.join(base, "cache"))
    try:
        with Sshd(os.path.join(base, "sshd")) as sshd:
            print(f"sshd: port {sshd.port}, started in {sshd.startup_seconds:.2f} s")
            # The process title keeps the config path: the reaper can find the listener.
            _check(sshd.config in _cmdline(sshd.proc.pid), "config not in the title",
                   _cmdline(sshd.proc.pid))
            # sftp -b: mkdir, put, get, ls, rename.
            data = os.urandom(300_000)
            with open(os.path.join(base, "up"), "wb") as f:
                f.write(data)
            remote = os.path.join(base, "remote")
            t = time.monotonic()
            r = sshd.sftp([f"mkdir {remote}", f"put {base}/up {remote}/a",
                           f"rename {remote}/a {remote}/b", f"get {remote}/b {base}/down",
                           f"ls -l {remote}"])
            _check(r.returncode == 0, "sftp -b failed", r.stdout + r.stderr + sshd.logs())
            with open(os.path.join(base, "down"), "rb") as f:
                _check(f.read() == data, "sftp round trip changed the data")
            _check(os.listdir(remote) == ["b"], "sftp rename", str(os.listdir(remote)))
            print(f"sftp -b: put, rename, get, ls in {time.monotonic() - t:.2f} s")
            _check(len(sshd.accepted("publickey")) == 1, "no publickey login logged",
                   sshd.logs())
            # The unknown-host path really is strict: an empty known_hosts is refused.
            empty_kh = os.path.join(base, "empty_known_hosts")
            _write(empty_kh, "", 0o644)
            r = subprocess.run(["ssh", "-F", sshd.ssh_config, "-o",
                                f"UserKnownHostsFile={empty_kh}", ALIAS, "true"],
                               capture_output=True, text=True, stdin=subprocess.DEVNULL)
            _check(r.returncode == 255 and "verification failed" in r.stderr,
                   "ssh accepted an unknown host key", r.stderr)

            # restic through the ssh command.
            repo = os.path.join(base, "restic-repo")
            cmd = ["restic", "-r", sshd.url(repo), "-o", "sftp.command=" + sshd.ssh_command()]
            t = time.monotonic()
            for args in (["init"], ["backup", os.path.join(base, "up")],
                         ["check", "--read-data"], ["snapshots", "--json"]):
                r = subprocess.run(cmd + args, capture_output=True, text=True, env=restic_env,
                                   stdin=subprocess.DEVNULL, timeout=300)
                _check(r.returncode == 0, f"restic {args[0]} failed",
                       r.stdout + r.stderr + sshd.logs())
            _check(os.path.isfile(os.path.join(repo, "config")), "restic wrote no config")
            print(f"restic 0.14 via sftp.command: init, backup, check --read-data, "
                  f"snapshots in {time.monotonic() - t:.2f} s")

            # A dropped connection: an open session's processes are killed, the client sees
            # the connection end, the listener still answers. (restic's sessions may still be
            # closing: only this client's must be there.)
            _check(sshd.wait_idle(), "sessions left after restic", str(sshd.session_pids()))
            client = subprocess.Popen(["ssh", "-F", sshd.ssh_config, ALIAS, "-s", "sftp"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE)
            deadline = time.monotonic() + 20
            while not any("@notty" in _cmdline(p) for p in sshd.session_pids()):
                _check(time.monotonic() < deadline and client.poll() is None,
                       "no session process appeared", sshd.logs())
                time.sleep(0.05)
            titles = sorted(_cmdline(p) for p in sshd.session_pids())
            _check(sshd.stop_sessions(), "nothing to stop")
            killed = sshd.kill_sessions()
            try:
                client.wait(20)
            except subprocess.TimeoutExpired:
                client.kill()
                raise ServerError("ssh did not notice its connection drop")
            client.communicate()
            _check(sshd.session_pids() == [], "sessions left", str(sshd.session_pids()))
            _check(sshd._answers(), "listener gone after kill_sessions")
            print(f"kill_sessions: killed {len(killed)} ({'; '.join(titles)}), ssh exited "
                  f"with {client.returncode}, listener still answers")

            # The agent: its key logs in with no identity file at all.
            with SshAgent(os.path.join(base, "agent")) as agent:
                agent.add(sshd.client_key)
                _check(len(agent.keys()) == 1, "agent holds no key")
                noid = os.path.join(base, "ssh_config_noid")
                _write(noid, sshd.client_config(None, sshd.known_hosts))
                r = subprocess.run(["ssh", "-F", noid, ALIAS, "echo", "via-agent"],
                                   capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                   env=dict(os.environ, **agent.env()))
                _check(r.stdout.strip() == "via-agent", "agent login failed", r.stderr)
            print("ssh-agent: login with the agent's key works")
            listener = sshd.proc.pid
        _check(not _cmdline(listener).startswith("sshd:"), "listener left running")

        if Sshd.ipv6_available():
            with Sshd(os.path.join(base, "sshd6"), ipv6=True) as sshd:
                for host in (HOST, HOST6):
                    r = sshd.sftp([f"ls {base}"], host=host)
                    _check(r.returncode == 0, f"sftp to {host} failed", r.stderr + sshd.logs())
            print("ipv6: sftp to 127.0.0.1 and [::1] on one port")
        else:
            print("ipv6: skipped: no ::1")

        # Password logins as a temporary account.
        ok = TempUser.available()
        if ok:
            with TempUser(os.path.join(base, "home-user")) as user, \
                    Sshd(os.path.join(base, "sshd-pw"), password_auth=True,
                         sftp_server=SFTP_SERVER) as sshd:
                env = dict(os.environ, **askpass_env(base, user.password))
                env.pop("SSH_AUTH_SOCK", None)
                argv = ["ssh", "-F", "/dev/null", "-p", str(sshd.port),
                        "-o", f"UserKnownHostsFile={sshd.known_hosts}",
                        "-o", "GlobalKnownHostsFile=/dev/null",
                        "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=no",
                        "-o", "PreferredAuthentications=password",
                        "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1",
                        f"{user.name}@{HOST}"]
                r = subprocess.run(argv + ["pwd"], capture_output=True, text=True, env=env,
                                   stdin=subprocess.DEVNULL, timeout=60)
                _check(r.returncode == 0 and r.stdout.strip() == user.home,
                       "password login failed", r.stdout + r.stderr + sshd.logs())
                _check(sshd.accepted("password"), "no password login logged", sshd.logs())
                env_bad = dict(env, **askpass_env(os.path.join(base, "sshd-pw"), "wrong"))
                r = subprocess.run(argv + ["pwd"], capture_output=True, text=True,
                                   env=env_bad, stdin=subprocess.DEVNULL, timeout=60)
                _check(r.returncode == 255 and "Permission denied" in r.stderr,
                       "a wrong password was accepted", r.stdout + r.stderr)
                name = user.name
                print(f"password login as {name} (sftp-server subsystem): works; a wrong "
                      "password is refused")
            r = subprocess.run(["getent", "passwd", name], capture_output=True)
            _check(r.returncode == 2, f"account {name} left behind")
        else:
            print("password logins: skipped:", ok.reason)

        left = [f"{p} {_cmdline(p)}" for p in filter(str.isdigit, os.listdir("/proc"))
                if base in _cmdline(p) and int(p) != os.getpid()]
        _check(not left, "processes left behind", "\n".join(left))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print("sshservers self-test OK")
    return 0


if __name__ == "__main__":
    sys.exit(_self_test())
