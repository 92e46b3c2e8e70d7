#!/bin/sh
# Install (or upgrade) the NowConnect agent as a systemd service. Run as root:
#   sudo sh install.sh nowconnect-<version>.tar.gz
# Idempotent: re-running upgrades /opt/nowconnect and keeps /etc/nowconnect/agent.env and the token.
# Needs Java 21+ (JAVA_HOME in agent.env, or java on PATH).
set -eu

ARCHIVE=${1:-}
PREFIX=/opt/nowconnect
CONF_DIR=/etc/nowconnect
UNIT=/etc/systemd/system/nowconnect-agent.service

if [ -z "$ARCHIVE" ] || [ ! -f "$ARCHIVE" ]; then
    echo "usage: $0 nowconnect-<version>.tar.gz" >&2
    exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run as root (sudo)" >&2
    exit 1
fi

# 1. Service account without login or home.
if ! getent group nowconnect >/dev/null; then
    groupadd --system nowconnect
fi
if ! getent passwd nowconnect >/dev/null; then
    useradd --system --gid nowconnect --no-create-home --home-dir /var/lib/nowconnect \
        --shell /usr/sbin/nologin --comment "NowConnect agent" nowconnect
fi

# 2. Unpack the archive into a fresh directory, then swap it in (a running agent keeps its open files).
staging=$(mktemp -d "${TMPDIR:-/tmp}/nowconnect-install.XXXXXX")
trap 'rm -rf "$staging"' EXIT
tar -xzf "$ARCHIVE" -C "$staging"
top=$(find "$staging" -mindepth 1 -maxdepth 1 -type d | head -n 1)
if [ -z "$top" ] || [ ! -x "$top/bin/nowconnect" ]; then
    echo "install.sh: $ARCHIVE does not look like a NowConnect archive (no bin/nowconnect)" >&2
    exit 1
fi
chown -R root:root "$top"
chmod -R go-w "$top"
rm -rf "$PREFIX.new"
mv "$top" "$PREFIX.new"
if [ -d "$PREFIX" ]; then
    rm -rf "$PREFIX.old"
    mv "$PREFIX" "$PREFIX.old"
fi
mv "$PREFIX.new" "$PREFIX"
rm -rf "$PREFIX.old"

# 3. Configuration: readable by the service group only; never overwritten.
install -d -m 0750 -o root -g nowconnect "$CONF_DIR"
if [ ! -f "$CONF_DIR/agent.env" ]; then
    sed 's#^NC_TOKEN_FILE=.*#NC_TOKEN_FILE=/etc/nowconnect/agent.token#' \
        "$PREFIX/etc/nowconnect.env.example" > "$CONF_DIR/agent.env"
    chown root:nowconnect "$CONF_DIR/agent.env"
    chmod 0640 "$CONF_DIR/agent.env"
    created_env=yes
else
    created_env=no
fi

# 4. Unit file (always refreshed from the archive).
install -m 0644 -o root -g root "$PREFIX/deploy/systemd/nowconnect-agent.service" "$UNIT"
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
fi

echo "NowConnect installed in $PREFIX; unit $UNIT."
if [ "$created_env" = yes ]; then
    echo "Created $CONF_DIR/agent.env from the example: edit it (NC_AGENT_URL, NC_AGENT_ID, NC_CONNECTORS, targets)."
fi
cat <<NEXT
Next steps:
  1. Edit $CONF_DIR/agent.env
  2. Put the token in $CONF_DIR/agent.token:
       sudo install -m 0640 -o root -g nowconnect agent.token $CONF_DIR/agent.token
  3. sudo systemctl enable --now nowconnect-agent
  4. journalctl -u nowconnect-agent -f      (health: printf '' | nc 127.0.0.1 8090  ->  READY)
To upgrade, run this script again with the new archive, then: sudo systemctl restart nowconnect-agent
NEXT
