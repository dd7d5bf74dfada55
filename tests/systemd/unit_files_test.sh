#!/usr/bin/env bash
# Checks systemd/conclave@.service offline with systemd-analyze (ctest runs it
# twice; exit 77 is a skip):
#   unit_files_test.sh verify   <systemd dir> <conclaved>  no error, no warning
#   unit_files_test.sh security <systemd dir> <conclaved>  exposure <= 2.0
# verify needs ExecStart's binary to exist, so the unit is checked as a copy
# whose ExecStart is the conclaved just built; nothing else is changed.
set -euo pipefail
what=${1:?verify or security}
source_dir=$(realpath "${2:?the systemd/ directory}")
conclaved=$(realpath "${3:?the built conclaved}")
max_exposure=2.0

if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze is not installed (Debian: apt-get install systemd)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s|^ExecStart=/usr/bin/conclaved |ExecStart=$conclaved |" "$source_dir/conclave@.service" \
  > "$work/conclave@.service"
grep -q "^ExecStart=$conclaved " "$work/conclave@.service" ||
  { echo "FAIL: no 'ExecStart=/usr/bin/conclaved ' line in conclave@.service to point at the build"; exit 1; }
# An instance, as systemctl would start it.
cp "$work/conclave@.service" "$work/conclave@example.service"

case $what in
  verify)
    # Unknown keys and unparsable values are only warnings (exit code 0), so
    # any output at all fails the test.
    if ! out=$(systemd-analyze verify --man=no "$work/conclave@example.service" 2>&1) || [ -n "$out" ]; then
      echo "FAIL: systemd-analyze verify conclave@.service:"
      echo "$out"
      exit 1
    fi
    echo "systemd-analyze verify: conclave@.service is clean"
    if command -v systemd-sysusers >/dev/null; then
      mkdir -p "$work/root/etc"
      if ! out=$(systemd-sysusers --dry-run --root="$work/root" "$source_dir/sysusers.d/conclave.conf" 2>&1) ||
         ! grep -q "Creating user 'conclave'" <<< "$out"; then
        echo "FAIL: systemd-sysusers does not accept sysusers.d/conclave.conf:"
        echo "$out"
        exit 1
      fi
      echo "systemd-sysusers: sysusers.d/conclave.conf creates the conclave user"
    fi
    ;;
  security)
    out=$(systemd-analyze security --offline=true --no-pager "$work/conclave@example.service" 2>&1) || true
    line=$(grep "Overall exposure level" <<< "$out" || true)
    score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<< "$line")
    if [ -z "$score" ]; then
      echo "FAIL: no exposure level in the output of systemd-analyze security:"
      echo "$out"
      exit 1
    fi
    echo "systemd-analyze security: conclave@.service exposure $score (at most $max_exposure allowed)"
    if ! awk -v s="$score" -v max="$max_exposure" 'BEGIN { exit !(s <= max) }'; then
      echo "FAIL: exposure $score is above $max_exposure; what raises it:"
      grep "✗" <<< "$out" || true
      exit 1
    fi
    ;;
  *) echo "usage: $0 verify|security <systemd dir> <conclaved>"; exit 2 ;;
esac
