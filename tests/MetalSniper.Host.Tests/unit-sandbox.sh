#!/usr/bin/env bash
# Runs a command in the sandbox a systemd unit file describes, without systemd (none runs as PID 1 in a container or on
# CI): what SystemdUnitTests uses to run the real service under deploy/metalsniper.service's settings. As root:
#   unit-sandbox.sh UNIT_FILE ROOT_DIR WRITABLE_DIR USER -- COMMAND...
# Applied from the unit file: ProtectSystem=strict (every mount read-only in a private mount namespace) with only
# WRITABLE_DIR writable (its ReadWritePaths=, inside ROOT_DIR: the installation, read-only), PrivateTmp=yes (a fresh /tmp;
# a ROOT_DIR under /tmp is carried into it, read-only; WRITABLE_DIR "-": nothing writable), ProtectHome=yes (/home, /root empty),
# UMask=, NoNewPrivileges=yes, CapabilityBoundingSet= and AmbientCapabilities= (through setpriv, as USER), and
# SystemCallFilter= / SystemCallErrorNumber= (a seccomp allow-list of the groups as systemd-analyze expands them, loaded
# through libseccomp). SystemCallArchitectures=native is libseccomp's default. What the command reads must be readable by USER.
set -euo pipefail
unit=$1 root=$2 writable=$3 user=$4
shift 4
[ "$1" = "--" ] && shift
[ "$(id -u)" = 0 ] || { echo "unit-sandbox.sh: needs root (mount namespace, setpriv)" >&2; exit 77; }

value() { sed -n "s/^$1=//p" "$unit" | tail -n 1; }
[ "$(value ProtectSystem)" = strict ] || { echo "unit-sandbox.sh: $unit is not ProtectSystem=strict" >&2; exit 78; }
umask_value=$(value UMask)
caps=$(value CapabilityBoundingSet | tr 'A-Z' 'a-z' | sed 's/cap_//g; s/ /,+/g')
ambient=$(value AmbientCapabilities | tr 'A-Z' 'a-z' | sed 's/cap_//g; s/ /,+/g')
filter=$(value SystemCallFilter)
errno_name=$(value SystemCallErrorNumber)

exec unshare --mount --propagation private -- bash -s "$root" "$writable" "$user" "$umask_value" "$caps" "$ambient" "$filter" "$errno_name" "$@" <<'INNER'
set -euo pipefail
root=$1 writable=$2 user=$3 umask_value=$4 caps=$5 ambient=$6 filter=$7 errno_name=$8
shift 8
# Keep the installation reachable while /tmp is replaced.
stage=$(mktemp -d /dev/shm/unit-sandbox.XXXXXX)
mount --bind "$root" "$stage"
# ProtectSystem=strict: every mount read-only (the kernel's and devices' trees stay as they are).
awk '{print $2}' /proc/self/mounts | sed 's/\\040/ /g' | sort -u | while read -r m; do
  case "$m" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
  mount -o remount,bind,ro "$m" 2>/dev/null || true
done
# PrivateTmp=yes, ProtectHome=yes.
mount -t tmpfs -o mode=1777 tmpfs /tmp
for h in /home /root /run/user; do [ -d "$h" ] && mount -t tmpfs -o ro,mode=0755 tmpfs "$h"; done
# The installation at its own path again, read-only; ReadWritePaths=: the one writable directory in it.
mkdir -p "$root"
mount --bind "$stage" "$root"
mount -o remount,bind,ro "$root"
# The stage has done its work (the installation's mount stands by itself): gone, so no empty directory is left behind.
umount "$stage"
rmdir "$stage"
if [ "$writable" != - ]; then
  mount --bind "$writable" "$writable"
  mount -o remount,bind,rw "$writable"
fi
umask "$umask_value"
exec setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups --no-new-privs \
  --bounding-set=-all${caps:+,+$caps} --inh-caps=-all${ambient:+,+$ambient} --ambient-caps=-all${ambient:+,+$ambient} \
  env HOME=/nonexistent python3 - "$filter" "$errno_name" "$@" <<'PY'
import ctypes, errno, os, subprocess, sys
groups, errno_name, command = sys.argv[1].split(), sys.argv[2], sys.argv[3:]
def expand(item, seen):
    if not item.startswith("@"):
        return {item}
    names = set()
    for line in subprocess.run(["systemd-analyze", "syscall-filter", item], capture_output=True, text=True, check=True).stdout.splitlines()[1:]:
        t = line.strip()
        if t and not t.startswith("#") and t not in seen:
            seen.add(t)
            names |= expand(t, seen)
    return names
names = set()
for g in groups:
    names |= expand(g, {g})
lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
lib.seccomp_init.restype = ctypes.c_void_p
lib.seccomp_init.argtypes = [ctypes.c_uint32]
lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
lib.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
lib.seccomp_load.argtypes = [ctypes.c_void_p]
deny = (0x00050000 | getattr(errno, errno_name)) if errno_name else 0x80000000  # SCMP_ACT_ERRNO(e), else SCMP_ACT_KILL_PROCESS
ctx = lib.seccomp_init(deny)
allowed = 0
for n in sorted(names):
    nr = lib.seccomp_syscall_resolve_name(n.encode())
    if nr >= 0 and lib.seccomp_rule_add(ctx, 0x7fff0000, nr, 0) == 0:  # SCMP_ACT_ALLOW
        allowed += 1
if lib.seccomp_load(ctx) != 0:
    sys.exit("unit-sandbox.sh: seccomp_load failed")
print(f"unit-sandbox: uid {os.getuid()}, {allowed} system calls allowed ({' '.join(groups)}), others {errno_name or 'kill'}", file=sys.stderr, flush=True)
os.execvp(command[0], command)
PY
INNER
