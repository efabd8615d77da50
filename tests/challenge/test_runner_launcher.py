"""The root launcher in a real container (challenge/runner/launcher.py): a stand-in runner
under the trusted uid drives candidate hosts through the proxy, candidates cannot reach the
key, the launcher or the runner, and only the launcher's HMAC makes the report."""

import base64
import hashlib
import hmac
import json
import secrets
import zlib
from pathlib import Path

import docker
import pytest

from challenge.answers import canned_answer
from challenge.extraction import extract_code_legacy
from challenge.levels import Level
from challenge.runner import launcher

pytestmark = pytest.mark.docker

SANDBOX = Path(launcher.__file__).parent
#: The launcher and every module it, the proxy and the candidate host import.
RUNNER_FILES = tuple(sorted(path.name for path in SANDBOX.glob("*.py")
                            if path.name != "__init__.py"))

STAND_IN_RUNNER = r'''
import json, os, socket, sys
sys.path.insert(0, "/work/_runner")
from launcher_link import LauncherLink
from proxy import Session, install, queue_class

link = LauncherLink()
out = {"uid": os.getuid(), "key_file_left": os.path.exists("/work/.key")}

def session(slot, folder):
    ours, theirs = socket.socketpair()
    link.spawn(slot, theirs, folder)
    theirs.close()
    s = Session(ours)
    install(s)  # as a test process does: time.sleep sends the gathered calls first
    return s, queue_class(s)

s, JobQueue = session(0, "/work/honest")
q = JobQueue()
executed = []
def record(n):
    executed.append(n)
    return n
for i in range(5):
    q.add_job(record, i)
ids = [q.add_job(lambda x=i: x) for i in range(1, 4)]
import time
time.sleep(0.5)
out["executed"] = executed
out["results"] = [q.get_result(i) for i in ids]
s.close()
out["sweep_honest"] = link.sweep(0)

s, JobQueue = session(1, "/work/hostile")
out["hostile"] = JobQueue().get_result("probe")
s.close()
out["sweep_hostile"] = link.sweep(1)
link.report(json.dumps(out, sort_keys=True))
'''

HOSTILE = r'''
import os, signal

def attempts():
    me = os.getpid()
    others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != me]
    found = {"others_seen": len(others) > 0, "killed": 0, "mem_opened": 0, "environ_read": 0}
    for pid in others:
        try:
            os.kill(pid, signal.SIGSTOP)
            found["killed"] += 1
        except OSError:
            pass
        for what in ("mem", "environ"):
            try:
                with open(f"/proc/{pid}/{what}", "rb") as handle:
                    handle.read(1)
                found["mem_opened" if what == "mem" else "environ_read"] += 1
            except OSError:
                pass
    for path in ("/work/.key", "/work/_runner/launcher.py"):
        try:
            with open(path, "a"):
                pass
            found[f"wrote {path}"] = True
        except OSError:
            pass
    found["uid"] = os.getuid()
    return found

class JobQueue:
    def add_job(self, fn, *args, **kwargs):
        return 1
    def get_result(self, job_id):
        return attempts()
'''

BOOT = r'''
import base64, json, os, sys, zlib
spec = json.loads(zlib.decompress(base64.b64decode(sys.argv[1])))
for path, (mode, text) in spec["files"].items():
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)
    os.chmod(path, int(mode, 8))
os.execv(sys.executable, [sys.executable, "-I", "/work/_runner/launcher.py",
                          "/work/stand_in_runner.py"])
'''


def test_the_launcher_fences_candidates_and_signs_the_report(sandbox_image: str) -> None:
    key = secrets.token_hex(32)
    files = {f"/work/_runner/{name}": ("644", (SANDBOX / name).read_text())
             for name in RUNNER_FILES}
    files["/work/stand_in_runner.py"] = ("644", STAND_IN_RUNNER)
    files["/work/honest/job_queue.py"] = ("644", extract_code_legacy(
        canned_answer(Level.L1, "reference")))
    files["/work/hostile/job_queue.py"] = ("644", HOSTILE)
    files["/work/.key"] = ("400", key)
    spec = base64.b64encode(zlib.compress(json.dumps({"files": files}).encode())).decode()
    client = docker.from_env()
    try:
        output = client.containers.run(
            sandbox_image, ["python3", "-I", "-c", BOOT, spec], remove=True, user="0",
            cap_drop=["ALL"], cap_add=["SETUID", "SETGID", "KILL"],
            security_opt=["no-new-privileges"], network_mode="none", read_only=True,
            # /work is root's (0755): a candidate can create nothing there (with 1777 it
            # could make /work/.key again, or any file a later reader might trust)
            tmpfs={"/work": "rw,mode=0755,size=16m", "/tmp": "rw,mode=1777,size=16m"},
            pids_limit=128, mem_limit="256m", stderr=True)
    finally:
        client.close()
    lines = [line for line in output.decode().splitlines()
             if line.startswith(launcher.MARKER + " ")]
    assert len(lines) == 1, output.decode()
    _, mac, body = lines[0].split(" ", 2)
    assert hmac.compare_digest(mac, hmac.new(key.encode(), body.encode(),
                                             hashlib.sha256).hexdigest())
    facts = json.loads(body)
    assert facts["uid"] == 60000 and facts["key_file_left"] is False
    assert facts["executed"] == [0, 1, 2, 3, 4] and facts["results"] == [1, 2, 3]
    hostile = facts["hostile"]
    assert hostile["uid"] == 61001 and hostile["others_seen"]
    assert (hostile["killed"], hostile["mem_opened"], hostile["environ_read"]) == (0, 0, 0)
    assert not [k for k in hostile if k.startswith("wrote")]
    assert facts["sweep_honest"] == 0 and facts["sweep_hostile"] == 0


def test_a_report_is_signed_over_its_exact_text() -> None:
    line = launcher.report_line(b"k" * 32, '{"tests": []}')
    marker, mac, body = line.split(" ", 2)
    assert marker == launcher.MARKER and body == '{"tests": []}'
    assert mac == launcher.sign(b"k" * 32, body) != launcher.sign(b"k" * 32, body + " ")
    assert mac != launcher.sign(b"j" * 32, body)
