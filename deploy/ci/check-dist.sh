#!/usr/bin/env bash
# Checks the distribution archive after `mvn -B package` (surefire runs before package, so this is not a
# JUnit test). Call from .ci/run:   bash deploy/ci/check-dist.sh [target/nowconnect-<version>.tar.gz]
#  1. tar.gz and zip hold the documented layout, bin/nowconnect is executable
#  2. the launcher refuses a Java older than 21 with a clear message (when such a Java is installed)
#  3. `bin/nowconnect token` works from the unpacked archive (class path, default JVM options)
#  4. hub + agent from the archive: the agent (with --env-file) reaches READY on its TCP health port,
#     then SIGTERM -> drain -> exit 0 within NC_DRAIN_TIMEOUT_SEC + margin
# Needs Java 21+ via JAVA_HOME or PATH. Set OLD_JAVA_HOME to override the Java used for step 2.
set -euo pipefail

cd "$(dirname "$0")/../.."
archive=${1:-$(ls target/nowconnect-*.tar.gz 2>/dev/null | head -n 1)}
[ -n "$archive" ] && [ -f "$archive" ] || { echo "check-dist: no target/nowconnect-*.tar.gz; run mvn -B package first" >&2; exit 1; }
zip=${archive%.tar.gz}.zip
name=$(basename "$archive" .tar.gz)

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "check-dist: FAIL: $*" >&2; exit 1; }
ok() { echo "check-dist: ok: $*"; }

# ---- 1. layout ----
tar -xzf "$archive" -C "$work"
home=$work/$name
[ -d "$home" ] || fail "archive has no top directory $name/"
for f in bin/nowconnect bin/nowconnect.cmd lib/nowconnect.jar etc/nowconnect.env.example \
         deploy/systemd/nowconnect-agent.service deploy/systemd/install.sh \
         deploy/windows/install-service.ps1 deploy/windows/uninstall-service.ps1 \
         deploy/k8s/deployment.yaml deploy/k8s/daemonset.yaml deploy/k8s/kustomization.yaml \
         README.md LICENSE; do
    [ -f "$home/$f" ] || fail "$f missing from $archive"
done
[ -x "$home/bin/nowconnect" ] || fail "bin/nowconnect is not executable"
[ -x "$home/deploy/systemd/install.sh" ] || fail "deploy/systemd/install.sh is not executable"
ls "$home"/lib/libs/*.jar >/dev/null 2>&1 || fail "lib/libs/ has no jars"
if [ -f "$zip" ]; then
    if command -v unzip >/dev/null 2>&1; then zlist=$(unzip -Z1 "$zip"); else zlist=$(cd "$work" && jar tf "$zip"); fi
    tlist=$(tar -tzf "$archive" | grep -v '/$' | sort)
    [ "$(printf '%s\n' "$zlist" | grep -v '/$' | sort)" = "$tlist" ] || fail "zip and tar.gz hold different files"
    ok "zip holds the same $(printf '%s\n' "$tlist" | wc -l) files as the tar.gz"
else
    fail "$zip missing"
fi
ok "layout of $archive"

# ---- 2. too old Java ----
old=${OLD_JAVA_HOME:-}
if [ -z "$old" ]; then
    for d in /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-11-openjdk-amd64 /usr/lib/jvm/java-17-openjdk-arm64; do
        [ -x "$d/bin/java" ] && { old=$d; break; }
    done
fi
if [ -n "$old" ]; then
    set +e
    msg=$(JAVA_HOME=$old "$home/bin/nowconnect" token --help 2>&1)
    rc=$?
    set -e
    [ "$rc" -eq 1 ] || fail "launcher with $old exited $rc, expected 1"
    case $msg in *"Java 21 or newer is required"*) ;; *) fail "launcher with $old said: $msg" ;; esac
    ok "old Java refused: $msg"
else
    echo "check-dist: skip: no Java older than 21 installed for the refusal check"
fi

# ---- 3. token mode from the archive ----
head -c 32 /dev/urandom | base64 > "$work/hub.secret"
"$home/bin/nowconnect" token --secret-file "$work/hub.secret" --agent-id dist-check --connectors echo --ttl 1h > "$work/agent.token" \
    || fail "bin/nowconnect token failed"
grep -Eq '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' "$work/agent.token" || fail "token output is not a JWT: $(cat "$work/agent.token")"
ok "bin/nowconnect token printed a JWT"

# ---- 4. hub + agent, READY, SIGTERM, clean exit ----
free_port() {
    local p
    while :; do
        # below the kernel's ephemeral range, so no outgoing connection holds it
        p=$((20000 + RANDOM % 12000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}
hub_port=$(free_port); listen_port=$(free_port); health_port=$(free_port)

cat > "$work/hub.env" <<HUB
NC_HUB_HOST=127.0.0.1
NC_HUB_PORT=$hub_port
NC_HUB_JWT_SECRET_FILE=$work/hub.secret
NC_HUB_LISTENERS=echo=127.0.0.1:$listen_port
HUB
"$home/bin/nowconnect" hub --env-file "$work/hub.env" > "$work/hub.log" 2>&1 &
hub_pid=$!; pids+=("$hub_pid")

cat > "$work/agent.env" <<AGENT
NC_AGENT_URL=ws://127.0.0.1:$hub_port/tunnel
NC_AGENT_ID=dist-check
NC_TOKEN_FILE=$work/agent.token
NC_CONNECTORS=echo
NC_TARGET_echo_HOST=127.0.0.1
NC_TARGET_echo_PORT=9
NC_HEALTH_HOST=127.0.0.1
NC_HEALTH_PORT=$health_port
NC_DRAIN_TIMEOUT_SEC=5
AGENT
"$home/bin/nowconnect" agent --env-file "$work/agent.env" > "$work/agent.log" 2>&1 &
agent_pid=$!; pids+=("$agent_pid")

state=none
for _ in $(seq 1 60); do
    kill -0 "$agent_pid" 2>/dev/null || { cat "$work/agent.log" >&2; fail "agent exited before READY"; }
    line=$( (exec 3<>"/dev/tcp/127.0.0.1/$health_port" && read -r -t 2 l <&3 && printf '%s' "${l%$'\r'}") 2>/dev/null || true)
    [ -n "$line" ] && state=$line
    [ "$state" = READY ] && break
    sleep 0.5
done
if [ "$state" != READY ]; then
    echo "--- hub.log"; tail -n 40 "$work/hub.log"; echo "--- agent.log"; tail -n 40 "$work/agent.log"
    fail "agent health port said '$state', never READY"
fi
ok "agent from the archive is READY (health port $health_port)"
if [ -r "/proc/$hub_pid/cmdline" ]; then
    hub_args=$(tr '\0' ' ' < "/proc/$hub_pid/cmdline")
    agent_args=$(tr '\0' ' ' < "/proc/$agent_pid/cmdline")
    case $hub_args in *" -Xmx512m "*) ;; *) fail "the hub did not get the launcher's hub defaults: $hub_args" ;; esac
    case $agent_args in *" -Xmx128m "*) ;; *) fail "the agent did not get the launcher's defaults: $agent_args" ;; esac
    ok "launcher defaults per mode: hub -Xmx512m, agent -Xmx128m"
fi

[ "$(cat "/proc/$agent_pid/comm" 2>/dev/null || echo java)" = java ] || fail "launcher did not exec java (pid $agent_pid is $(cat /proc/$agent_pid/comm))"
kill -TERM "$agent_pid"
start=$SECONDS
set +e
wait "$agent_pid"
rc=$?
set -e
took=$((SECONDS - start))
if [ "$rc" -ne 0 ]; then
    echo "--- agent.log"; tail -n 40 "$work/agent.log"
    fail "agent exited $rc after SIGTERM, expected 0"
fi
[ "$took" -le 10 ] || fail "agent took ${took}s to stop (drain timeout 5 s)"
ok "agent drained and exited 0 after SIGTERM in ${took}s"

kill -TERM "$hub_pid"
set +e; wait "$hub_pid"; hub_rc=$?; set -e
[ "$hub_rc" -eq 0 ] || [ "$hub_rc" -eq 143 ] || fail "hub exited $hub_rc after SIGTERM"
ok "hub stopped ($hub_rc)"
echo "check-dist: all checks passed"
