#!/bin/sh
# Installs certkeeper where the units in this folder expect it, from a built checkout:
#
#   npm ci && npm run build                                    # once, in the checkout
#   sudo examples/systemd/install.sh [--reload-unit nginx.service]...
#   sudo examples/systemd/install.sh --root /tmp/stage         # the same into a folder standing in for /
#
#   1. /opt/certkeeper/lib/certkeeper: dist/ and the production dependencies, pinned by
#      package-lock.json (npm ci --omit=dev) and pruned as the container image prunes them;
#   2. /opt/certkeeper/bin/certkeeper, the path in the units (a link to dist/cli/main.js, a Node
#      script), and /usr/local/bin/certkeeper for your shell;
#   3. the certkeeper system user (certkeeper.sysusers) and its folders (certkeeper.tmpfiles):
#      /etc/certkeeper 0750 root:certkeeper, /etc/certkeeper/credentials 0700 root,
#      /etc/ssl/certkeeper 0755 certkeeper, /var/lib/certkeeper 0700 certkeeper;
#   4. certkeeper.service, certkeeper-renew.service/.timer and certkeeper-doctor.service in
#      /etc/systemd/system, and certkeeper.service.d/local.conf, a drop-in all three read;
#   5. with --reload-unit: the polkit rule letting certkeeper reload exactly those units.
#
# It enables and starts nothing, and leaves an existing config, credential or local.conf alone.
# Node 22 or later must be `node` on systemd's PATH (/usr/local/bin or /usr/bin).
set -eu
umask 022

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
root=/
units=
while [ $# -gt 0 ]; do
  case $1 in
    --root) root=${2:?--root needs a folder}; shift 2 ;;
    --root=*) root=${1#--root=}; shift ;;
    --reload-unit) units="$units ${2:?--reload-unit needs a unit name}"; shift 2 ;;
    --reload-unit=*) units="$units ${1#--reload-unit=}"; shift ;;
    -h|--help) sed -n '2,/^set -eu/p' "$0" | sed -e '$d' -e 's/^# //' -e 's/^#$//'; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
root=$(cd "$root" && pwd)
at() { if [ "$root" = / ]; then printf '%s' "$1"; else printf '%s%s' "$root" "$1"; fi; }
die() { echo "install.sh: $*" >&2; exit 1; }

for tool in node npm systemd-sysusers systemd-tmpfiles; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found (systemd-sysusers and systemd-tmpfiles come with the systemd package)"
done
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)' || die "Node 22 or later is needed, this is $(node -v)"
if [ "$root" = / ]; then
  # What the units will run: the first node on systemd's default PATH.
  unit_node=$(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin command -v node || true)
  [ -n "$unit_node" ] || die "no node in /usr/local/bin or /usr/bin, where the units look: install Node 22 or 24 there"
  "$unit_node" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)' ||
    die "$unit_node is Node $("$unit_node" -v); the units need 22 or later there (Debian 12's nodejs is 18)"
fi
[ -f "$repo/dist/cli/main.js" ] || die "no $repo/dist: run npm ci && npm run build in the checkout first"

for unit in $units; do
  case $unit in
    *[!A-Za-z0-9:_.@-]*|'') die "not a unit name: $unit" ;;
    *.service|*.socket|*.target|*.timer|*.path|*.mount) ;;
    *) die "give the full unit name, e.g. $unit.service" ;;
  esac
done

# 1. The application, beside the previous one until it is complete.
prefix=$(at /opt/certkeeper)
app=$prefix/lib/certkeeper
mkdir -p "$prefix/bin" "$prefix/lib"
rm -rf "$app.new"
mkdir "$app.new"
cp "$repo/package.json" "$repo/package-lock.json" "$app.new/"
cp -R "$repo/dist" "$app.new/dist"
(cd "$app.new" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
if [ -f "$repo/packaging/prune-production.sh" ]; then
  cp -R "$repo/packaging" "$app.new/packaging"
  sh "$app.new/packaging/prune-production.sh" "$app.new"
  rm -rf "$app.new/packaging"
fi
chmod 0755 "$app.new/dist/cli/main.js"
rm -rf "$app.old"
[ ! -d "$app" ] || mv "$app" "$app.old"
mv "$app.new" "$app"
rm -rf "$app.old"

# 2. The path the units run, and one on the shell's PATH.
ln -sfn ../lib/certkeeper/dist/cli/main.js "$prefix/bin/certkeeper"
mkdir -p "$(at /usr/local/bin)"
ln -sfn /opt/certkeeper/bin/certkeeper "$(at /usr/local/bin/certkeeper)"

# 3. The user, then its folders (tmpfiles resolves the names in the new user database).
install -D -m 0644 "$here/certkeeper.sysusers" "$(at /etc/sysusers.d/certkeeper.conf)"
install -D -m 0644 "$here/certkeeper.tmpfiles" "$(at /etc/tmpfiles.d/certkeeper.conf)"
systemd-sysusers --root="$root" certkeeper.conf
systemd-tmpfiles --create --root="$root" certkeeper.conf

# 4. The units, and one drop-in for all three (systemd reads a linked drop-in file).
system=$(at /etc/systemd/system)
install -d -m 0755 "$system"
for file in certkeeper.service certkeeper-renew.service certkeeper-renew.timer certkeeper-doctor.service; do
  install -m 0644 "$here/$file" "$system/$file"
done
install -d -m 0755 "$system/certkeeper.service.d" "$system/certkeeper-renew.service.d" "$system/certkeeper-doctor.service.d"
if [ ! -e "$system/certkeeper.service.d/local.conf" ]; then
  cat >"$system/certkeeper.service.d/local.conf" <<'EOF'
# Your settings for certkeeper.service, certkeeper-renew.service and certkeeper-doctor.service
# (the other two link to this file). After a change: systemctl daemon-reload, then restart.
[Service]
# More secrets, each a root-only file in /etc/certkeeper/credentials/ (the default keeps a missing
# one from stopping the unit); the config reads ${CREDENTIALS_DIRECTORY}/slack-url:
#LoadCredential=slack-url:/etc/certkeeper/credentials/slack-url
#SetCredential=slack-url:\n
# Sink folders outside /etc/ssl/certkeeper:
#ReadWritePaths=-/srv/tls
EOF
  chmod 0644 "$system/certkeeper.service.d/local.conf"
fi
for unit in certkeeper-renew certkeeper-doctor; do
  ln -sfn ../certkeeper.service.d/local.conf "$system/$unit.service.d/local.conf"
done

# 5. The polkit rule, for exactly the units given.
if [ -n "$units" ]; then
  list=
  for unit in $units; do list="$list${list:+, }\"$unit\""; done
  rules=$(at /etc/polkit-1/rules.d)
  [ -d "$rules" ] || install -d -m 0700 "$rules"
  sed "s|^\( *var units = \)\[.*\];\(.*CERTKEEPER_RELOAD_UNITS.*\)\$|\1[$list];\2|" "$here/certkeeper-reload.rules" >"$rules/50-certkeeper-reload.rules"
  chmod 0644 "$rules/50-certkeeper-reload.rules"
  grep -q "var units = \[$list\];" "$rules/50-certkeeper-reload.rules" || die "could not write the unit list into $rules/50-certkeeper-reload.rules"
  [ "$root" != / ] || [ -x /usr/lib/polkit-1/polkitd ] || echo "install.sh: polkit is not installed, so the rule does nothing yet: apt-get install polkitd" >&2
fi

if [ "$root" = / ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
cat <<EOF
certkeeper $("$app/dist/cli/main.js" --version) installed under $root
Next:
  config:      install -m 0640 -g certkeeper examples/rfc2136-nginx.yaml /etc/certkeeper/certkeeper.yaml (then edit)
  secrets:     install -m 0600 tsig /etc/certkeeper/credentials/tsig
  check:       systemctl start certkeeper-doctor; journalctl -u certkeeper-doctor -o cat -n 40 --no-pager
  start:       systemctl enable --now certkeeper    (or: systemctl enable --now certkeeper-renew.timer)
EOF
