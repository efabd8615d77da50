#!/usr/bin/env bash
# Run one container with every sandbox flag and check the limits from inside; fail loudly.
set -euo pipefail
image="${1:-${JQ_SANDBOX_IMAGE:-jqbench-sandbox:latest}}"
probe='
set -e
test "$(id -u)" = 0 || { echo "uid is $(id -u), want 0 (the launcher drops it)"; exit 1; }
caps=$(sed -n "s/^CapEff:[[:space:]]*//p" /proc/self/status)
test "$caps" = 00000000000000e0 || { echo "capabilities are $caps, want KILL SETGID SETUID only"; exit 1; }
test "$(stat -c %u:%a /work)" = 0:755 || { echo "/work is $(stat -c %u:%a /work), want 0:755"; exit 1; }
python3 -c "import os; os.setgroups([]); os.setgid(61000); os.setuid(61000); open(\"/work/x\", \"w\")" 2>/dev/null && { echo "a candidate uid can write /work"; exit 1; }
if touch /probe 2>/dev/null; then echo "root filesystem is writable"; exit 1; fi
pids=$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)
test "$pids" = 64 || { echo "pids limit is $pids, want 64"; exit 1; }
mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)
test "$mem" = 268435456 || { echo "memory limit is $mem, want 268435456"; exit 1; }
if python3 -c "import socket; socket.create_connection((\"1.1.1.1\", 53), timeout=1)" 2>/dev/null; then echo "network is reachable"; exit 1; fi
python3 -m pytest --version >/dev/null 2>&1 || { echo "no pytest"; exit 1; }
cat /work/hello
'
out=$(printf 'sandbox ok\n' > /tmp/jq-smoke-hello && tar -C /tmp --transform 's/jq-smoke-hello/hello/' -c jq-smoke-hello \
    | docker run --rm -i --read-only --tmpfs /work:rw,exec,mode=0755 --tmpfs /tmp:mode=1777 \
        --user 0:0 --network none --cap-drop ALL --cap-add SETUID --cap-add SETGID \
        --cap-add KILL --security-opt no-new-privileges \
        --pids-limit 64 --memory 256m --memory-swap 256m --label org.jqbench.smoke=1 "$image" \
        sh -c "cd /work && tar -x --no-same-owner && timeout -s KILL 30 sh -c '$probe'" 2>&1) || {
    echo "sandbox smoke test failed: $out" >&2; exit 1; }
rm -f /tmp/jq-smoke-hello
test "$out" = "sandbox ok" || { echo "sandbox smoke test: unexpected output: $out" >&2; exit 1; }
echo "sandbox smoke test passed ($image)" >&2
