# The ONE list of what the tests need from the system, and how it gets installed. Sourced (POSIX sh) by
# `./nowconnect test` (which checks the whole list before it runs anything), `.ci/run` (through `./nowconnect test`)
# and `bench/run` (its own part only).
#
# To add a package: one `need` line in the list of the code that needs it:
#     need <Debian package> "<what needs it>" <command that succeeds when it is installed ...>
# e.g.  need chromium "UiTest (headless browser)" has chromium
# `has NAME` finds a program on the PATH or in the sbin directories (/usr/sbin is not on every user's PATH).
# The lists are only read through nc_missing; keep each check cheap (it runs on every `./nowconnect test`).

# What the JUnit tests and deploy/ci/check-dist.sh need.
nc_test_needs() {
    need maven "the build (mvn)" has mvn
    need unzip "deploy/ci/check-dist.sh" has unzip
    need systemd "SystemdUnitTest (systemd-analyze verify)" has systemd-analyze
    need tinyproxy-bin "ProxyTest, HubTlsNamesTest (an HTTP CONNECT proxy)" has tinyproxy
    need openssl "HubTlsTest, TestPki (certificates)" has openssl
    need iproute2 "NetworkCutTest (ip netns, veth)" has ip
    need iptables "NetworkCutTest (DROP and REJECT rules)" has iptables
    need python3-prometheus-client "MetricsFormatTest (the Prometheus text-format parser)" \
        /usr/bin/python3 -c 'import prometheus_client.parser'
    need haproxy "HubReplicasTest (three hub replicas behind haproxy)" has haproxy
    need chromium "StatusPageBrowserTest (headless browser)" has chromium
    need chromium-driver "StatusPageBrowserTest (WebDriver for chromium)" has chromedriver
    need prometheus "MonitoringFilesTest (promtool check rules, test rules)" has promtool
    need npm "HubPdpTest (installs the Cerbos PDP from the npm registry, see nc_npm_tools)" has npm
}

# What bench/run's yamux column needs (optional: the column is skipped without it).
nc_yamux_needs() {
    need golang-1.19-go "bench/run (yamux column: the Go relay)" test -x /usr/lib/go-1.19/bin/go
    need golang-github-hashicorp-yamux-dev "bench/run (yamux column: yamux sources)" \
        test -f /usr/share/gocode/src/github.com/hashicorp/yamux/stream.go
}

# The Cerbos policy decision point of HubPdpTest (and bench/run's PDP figure) comes from the npm registry, not from
# Debian: installed into .tools/cerbos of the project (not committed). Returns 1 (and says why) when it cannot be.
NCT_CERBOS_VERSION=0.55.0
NCT_CERBOS=.tools/cerbos/node_modules/@cerbos/cerbos-linux-x64/cerbos-linux-x64
nc_npm_tools() {
    [ -x "$NCT_CERBOS" ] && return 0
    if [ "${NCT_DRY_RUN:-0}" = 1 ]; then
        printf 'would run: npm install --prefix .tools/cerbos @cerbos/cerbos-linux-x64@%s\n' "$NCT_CERBOS_VERSION" >&2
        return 0
    fi
    command -v npm >/dev/null 2>&1 || { echo "missing: npm (for the Cerbos PDP of HubPdpTest)" >&2; return 1; }
    printf 'installing the Cerbos PDP %s (npm) into .tools/cerbos\n' "$NCT_CERBOS_VERSION" >&2
    npm install --prefix .tools/cerbos --no-audit --no-fund --no-save --loglevel=error \
        "@cerbos/cerbos-linux-x64@$NCT_CERBOS_VERSION" >&2 && [ -x "$NCT_CERBOS" ]
}

# What bench/run needs (./nowconnect test runs its smoke run).
nc_bench_needs() {
    need iperf3 "bench/run (iperf3 figure)" has iperf3
    need redis-server "bench/run (redis figure)" has redis-server
    need redis-tools "bench/run (redis-benchmark)" has redis-benchmark
    need slapd "bench/run (LDAP figure)" has slapd
    need ldap-utils "bench/run (ldapsearch)" has ldapsearch
    need openssl "bench/run (wss certificates)" has openssl
}

# has NAME: NAME is a program on the PATH or in an sbin directory.
has() {
    command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ] || [ -x "/usr/local/sbin/$1" ]
}

# nc_missing LIST...: runs the lists; sets NCT_MISSING (the missing packages, space separated, each once) and
# NCT_MISSING_WHY (one line per missing package: what needs it).
nc_missing() {
    NCT_MISSING=""
    NCT_MISSING_WHY=""
    for nc_list in "$@"; do
        "$nc_list"
    done
}

# need PACKAGE WHY CHECK...: one entry of a list (called by the lists, through nc_missing).
need() {
    nc_pkg=$1
    nc_why=$2
    shift 2
    if "$@" >/dev/null 2>&1; then
        return 0
    fi
    case " $NCT_MISSING " in
        *" $nc_pkg "*) ;;
        *)
            NCT_MISSING="${NCT_MISSING:+$NCT_MISSING }$nc_pkg"
            NCT_MISSING_WHY="${NCT_MISSING_WHY}    $nc_pkg: $nc_why
"
            ;;
    esac
}

# nc_install PROG: installs NCT_MISSING with apt-get when this is root on a machine with apt-get; otherwise says
# exactly what is missing and returns 1. With NCT_DRY_RUN=1 it only says what it would do (and returns 0).
nc_install() {
    nc_prog=$1
    [ -n "$NCT_MISSING" ] || return 0
    printf '%s: missing:\n%s' "$nc_prog" "$NCT_MISSING_WHY" >&2
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        printf '%s: install them first, e.g. as root: apt-get install --no-install-recommends %s\n' \
            "$nc_prog" "$NCT_MISSING" >&2
        return 1
    fi
    if [ "${NCT_DRY_RUN:-0}" = 1 ]; then
        printf '%s: would run: apt-get update; apt-get install -y --no-install-recommends %s\n' \
            "$nc_prog" "$NCT_MISSING" >&2
        return 0
    fi
    printf '%s: installing %s\n' "$nc_prog" "$NCT_MISSING" >&2
    export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
    case " $NCT_MISSING " in
        *" slapd "*)
            # bench/run runs its own slapd: the package must not create or start a system directory
            if command -v debconf-set-selections >/dev/null 2>&1; then
                echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
            fi
            ;;
    esac
    nc_log=$(mktemp)
    # shellcheck disable=SC2086 # one word per package
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends $NCT_MISSING; } >"$nc_log" 2>&1; then
        tail -n 20 "$nc_log" >&2
        rm -f "$nc_log"
        printf '%s: apt-get install %s failed\n' "$nc_prog" "$NCT_MISSING" >&2
        return 1
    fi
    rm -f "$nc_log"
    return 0
}
