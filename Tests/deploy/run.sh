#!/usr/bin/env bash
# Deployment checks for `zkctl generate`:
#   1. Kubernetes: every shipped inventory, both engines -> kubernetes-validate (strict, pinned
#      Kubernetes version, offline schemas), yamllint, and `kubectl kustomize` when kubectl exists;
#      the same for production-3 with zk_tls: true and --issue-tls-secret, whose Secret must pass
#      `openssl verify` against its own ca.crt; as root, production-3's pods run as the StatefulSet says
#      (Tests/deploy/pod_check.py, the module deploy.pod_check of Tests/: namespaces, the pod's uid/gid,
#      no capabilities, read-only root, probes).
#   2. Ansible: ansible-lint (production profile) and ansible-playbook --syntax-check.
#   3. A real deployment: the generated site.yml installs a 3-server ensemble of the bundled
#      zkserver on 127.0.0.1 (ports and directories in a temp dir, the pid-file service manager),
#      health_check.yml must report quorum, a second site.yml must change nothing, --check --diff
#      must pass, rolling_restart.yml runs under a kazoo write probe (0 failed writes allowed),
#      backup.yml fetches an archive; then everything this script started is stopped.
#   4. The same with zk_tls: true: `zkctl generate ansible` issues the certificates from the zkctl
#      CA into files/tls, site.yml deploys a TLS ensemble (mutual TLS between members), a kazoo
#      client connects to every server's TLS port, health_check.yml reports quorum, a second
#      site.yml changes nothing; then those servers are stopped too.
# Docker is not available here: the Dockerfile is checked statically only.
# Env: ZKSERVER_BIN / ZKCTL_BIN (default: the newer of .build/release and .build/debug), K8S_VERSION, KEEP_WORK=1.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
K8S_VERSION="${K8S_VERSION:-1.34.0}"
# The newest build of each binary (.ci/run builds zkserver in release after the debug build).
pick() {
  local found
  found="$(ls -t "$ROOT/.build/release/$1" "$ROOT/.build/debug/$1" 2>/dev/null | head -1)"
  echo "${found:-$ROOT/.build/debug/$1}"
}
ZKCTL="${ZKCTL_BIN:-$(pick zkctl)}"
ZKSERVER="${ZKSERVER_BIN:-$(pick zkserver)}"
START=$(date +%s)
# The Python modules of Tests/ (deploy.pod_check, deploy.k8s_e2e) run from Tests/, given absolute paths.
abs() { case "$1" in /*) echo "$1" ;; *) echo "$ROOT/$1" ;; esac; }
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
step() { echo; echo "== $* ($(( $(date +%s) - START ))s)"; }

pip_install() {
  python3 -m pip install -q --disable-pip-version-check "$@" 2>/dev/null ||
    python3 -m pip install -q --disable-pip-version-check --break-system-packages "$@"
}
need=()
command -v kubernetes-validate >/dev/null || need+=(kubernetes-validate)
command -v yamllint >/dev/null || need+=(yamllint)
command -v ansible-playbook >/dev/null || need+=(ansible-core)
command -v ansible-lint >/dev/null || need+=(ansible-lint)
python3 -c 'import kazoo' 2>/dev/null || need+=(kazoo)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  pip_install "${need[@]}"
fi
if [ ! -x "$ZKCTL" ] || [ ! -x "$ZKSERVER" ]; then
  swift build --product zkctl
  swift build --product zkserver
fi

WORK="$(mktemp -d /tmp/zkctl-deploy.XXXXXX)"
PROBE_PID=""
cleanup() {
  if [ -n "$PROBE_PID" ] && kill -0 "$PROBE_PID" 2>/dev/null; then kill "$PROBE_PID" 2>/dev/null || true; fi
  # Stop only the servers this run started, through their own pid-file scripts.
  for s in "$WORK"/opt/run/*/zk-service.sh "$WORK"/tls/opt/run/*/zk-service.sh; do
    [ -x "$s" ] && "$s" stop >/dev/null 2>&1 || true
  done
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------
step "Kubernetes manifests (kubernetes-validate $K8S_VERSION, yamllint)"
# validate_k8s DIR LABEL: kubernetes-validate, yamllint and (when kubectl exists) kubectl kustomize,
# which leaves the built objects in DIR.all.yaml.
validate_k8s() {
  local out="$1" label="$2" report
  # Kustomization and ServiceMonitor are not core kinds: kubernetes-validate warns, it does not fail.
  if report="$(kubernetes-validate -k "$K8S_VERSION" --strict --quiet "$out"/*.yaml 2>&1)"; then
    ok "kubernetes-validate $K8S_VERSION $label: $(ls "$out"/*.yaml | wc -l) files"
  else
    fail "kubernetes-validate $label"; echo "$report" >&2
  fi
  if yamllint -s -c Tests/deploy/yamllint.yml "$out"; then ok "yamllint $label"; else fail "yamllint $label"; fi
  if command -v kubectl >/dev/null; then
    if kubectl kustomize "$out" >"$out.all.yaml" 2>"$out.err"; then
      ok "kubectl kustomize $label: $(grep -c '^kind:' "$out.all.yaml") objects"
    else
      fail "kubectl kustomize $label"; cat "$out.err" >&2
    fi
  fi
}
for inv in inventory/*.yaml; do
  name="$(basename "$inv" .yaml)"
  for engine in apache bundled; do
    out="$WORK/k8s/$name-$engine"
    "$ZKCTL" generate kubernetes -i "$inv" --engine "$engine" --service-monitor --home "$WORK/zkctl-home" -o "$out" 2>/dev/null
    validate_k8s "$out" "$name ($engine)"
  done
done
# An older cluster: the current manifests use fields Kubernetes 1.24 rejects; --kube-version 1.24 leaves
# them out and says which. kubernetes-validate carries the schemas of 1.24 up to its release 1.29.0 (later
# releases start at 1.25), so that release, in a directory of its own, validates the 1.24 manifests.
OLD_K8S=1.24.0
KV_OLD="$WORK/kubernetes-validate-1.29"
out="$WORK/k8s/production-3-bundled-1.24"
if "$ZKCTL" generate kubernetes -i inventory/production-3.yaml --engine bundled --kube-version 1.24 --home "$WORK/zkctl-home" \
     -o "$out" 2>"$WORK/kube-version.err" && [ "$(grep -c 'left out' "$WORK/kube-version.err")" = 2 ]; then
  ok "--kube-version 1.24 says what it left out: $(grep -o 'left out [A-Za-z.]*' "$WORK/kube-version.err" | tr '\n' ' ')"
else
  fail "--kube-version 1.24"; cat "$WORK/kube-version.err" >&2
fi
if python3 -m pip install -q --disable-pip-version-check --no-deps --target "$KV_OLD" kubernetes-validate==1.29.0 \
     >"$WORK/kv-old.log" 2>&1; then
  kv_old() { PYTHONPATH="$KV_OLD" python3 -m kubernetes_validate -k "$OLD_K8S" --strict --quiet "$@" 2>&1; }
  if report="$(kv_old "$WORK/k8s/production-3-bundled"/*.yaml)"; then
    fail "the current manifests validate against Kubernetes $OLD_K8S, so --kube-version proves nothing"
  else
    ok "the current manifests do not validate against Kubernetes $OLD_K8S: $(echo "$report" | grep -o "'[a-zA-Z]*' was unexpected" | sort -u | tr '\n' ' ')"
  fi
  if report="$(kv_old "$out"/*.yaml)"; then
    ok "kubernetes-validate $OLD_K8S (release 1.29.0) production-3 (bundled, --kube-version 1.24): $(ls "$out"/*.yaml | wc -l) files"
  else
    fail "kubernetes-validate $OLD_K8S production-3 (bundled, --kube-version 1.24)"; echo "$report" >&2
  fi
else
  fail "cannot install kubernetes-validate 1.29.0 (the release with Kubernetes 1.24's schemas)"; cat "$WORK/kv-old.log" >&2
fi
# The stdout form is one stream of the same objects.
"$ZKCTL" generate kubernetes -i inventory/production-3.yaml --home "$WORK/zkctl-home" >"$WORK/stream.yaml"
if kubernetes-validate -k "$K8S_VERSION" --strict --quiet "$WORK/stream.yaml"; then ok "stdout stream validates"; else fail "stdout stream"; fi

# ---------------------------------------------------------------------------------------------
step "Kubernetes TLS Secret from the zkctl CA (--issue-tls-secret)"
# production-3 with zk_tls: true (a shipped TLS inventory is used when there is one). The CA and
# the certificate go to a private zkctl home under the work dir.
tls_inv=inventory/production-3-tls.yaml
if [ ! -f "$tls_inv" ]; then
  tls_inv="$WORK/production-3-tls.yaml"
  sed 's/^\( *\)zk_cluster: prod$/&\n\1zk_tls: true/' inventory/production-3.yaml >"$tls_inv"
fi
out="$WORK/k8s/production-3-tls-secret"
if "$ZKCTL" generate kubernetes -i "$tls_inv" --namespace zk --issue-tls-secret --home "$WORK/zkctl-home" \
     -o "$out" 2>"$WORK/tls-secret.err" && grep -qx '  - tls-secret.yaml' "$out/kustomization.yaml" &&
   [ "$(stat -c %a "$out/tls-secret.yaml")" = 600 ] && grep -q 'private key' "$WORK/tls-secret.err"; then
  ok "tls-secret.yaml written (mode 600), listed in kustomization.yaml, private-key warning printed"
else
  fail "--issue-tls-secret output"; cat "$WORK/tls-secret.err" >&2
fi
validate_k8s "$out" "production-3 with TLS Secret"
if command -v kubectl >/dev/null; then
  if grep -q '^kind: Secret$' "$out.all.yaml"; then ok "kustomize output has the Secret"; else fail "kustomize output lacks the Secret"; fi
fi
if command -v openssl >/dev/null; then
  for key in ca.crt tls.crt tls.key; do
    sed -n "s/^  $key: //p" "$out/tls-secret.yaml" | base64 -d >"$WORK/$key"
  done
  if openssl verify -CAfile "$WORK/ca.crt" "$WORK/tls.crt" >/dev/null &&
     openssl x509 -in "$WORK/tls.crt" -noout -checkhost prod-zk-1.prod-zk-hs.zk.svc.cluster.local | grep -q 'does match' &&
     [ "$(openssl pkey -in "$WORK/tls.key" -pubout)" = "$(openssl x509 -in "$WORK/tls.crt" -noout -pubkey)" ]; then
    ok "openssl: tls.crt verifies against ca.crt, names the pods, matches tls.key"
  else
    fail "openssl verify of the TLS Secret"
  fi
fi

# ---------------------------------------------------------------------------------------------
step "Kubernetes pods run as a cluster would run them (Tests/deploy/pod_check.py)"
# production-3 (bundled): the StatefulSet's init container, server, probes and preStop hook run with the
# pod's uid/gid, no capabilities and a read-only root, each pod in a network namespace of its own; a client
# writes and reads through every pod, and one pod is deleted and started again on its volumes. Needs root.
if [ "$(id -u)" = 0 ]; then
  if (cd Tests && timeout 600 python3 -m deploy.pod_check --zkctl "$(abs "$ZKCTL")" --zkserver "$(abs "$ZKSERVER")") \
       >"$WORK/pod_check.log" 2>&1; then
    sed 's/^/   /' "$WORK/pod_check.log"
    ok "pod_check.py: the generated pods run as their manifests say ($(tail -1 "$WORK/pod_check.log"))"
  else
    sed 's/^/   /' "$WORK/pod_check.log" >&2
    fail "pod_check.py: $(tail -1 "$WORK/pod_check.log")"
  fi
else
  echo "SKIP: NOT ROOT, so Tests/deploy/pod_check.py did not run: the generated Kubernetes pods were NOT executed" >&2
fi

# ---------------------------------------------------------------------------------------------
step "Ansible output (ansible-lint production profile, --syntax-check)"
# The role and playbooks differ between inventories only in the generated defaults and members,
# so lint one remote (Apache) and one loopback (bundled) inventory; syntax-check all of them.
# production-3 with zk_tls: true as well (tls.yml, the TLS keys in zoo.cfg, files/tls).
for inv in inventory/*.yaml "$tls_inv"; do
  name="$(basename "$inv" .yaml)"
  out="$WORK/ansible/$name"
  "$ZKCTL" generate ansible -i "$inv" --home "$WORK/zkctl-home" -o "$out" 2>/dev/null
  if [ "$name" = local-5-observer ]; then
    :
  elif (cd "$out" && ansible-lint -q --offline --profile production . >"$WORK/lint-$name.log" 2>&1); then
    ok "ansible-lint production $name"
  else
    fail "ansible-lint $name"; cat "$WORK/lint-$name.log" >&2
  fi
  playbooks=()
  for pb in site rolling_restart upgrade scale_out scale_in health_check backup; do playbooks+=("$out/$pb.yml"); done
  if ANSIBLE_CONFIG="$out/ansible.cfg" ansible-playbook -i "$inv" --syntax-check "${playbooks[@]}" >"$WORK/syntax.log" 2>&1; then
    ok "ansible-playbook --syntax-check $name: ${#playbooks[@]} playbooks"
  else
    fail "syntax-check $name"; cat "$WORK/syntax.log" >&2
  fi
done

# ---------------------------------------------------------------------------------------------
step "Real deployment: 3 bundled servers on 127.0.0.1 with the generated playbooks"
# free_base FIRST: a base port B >= FIRST with B+{0,1,2} (clients), +{100..102} (quorum),
# +{200..202} (election) and +{300..302} (TLS clients) all free on 127.0.0.1.
free_base() {
  python3 - "$1" <<'EOF'
import socket, sys
for base in range(int(sys.argv[1]), 40000, 37):
    socks = []
    try:
        for port in [base + i for i in (0, 1, 2, 100, 101, 102, 200, 201, 202, 300, 301, 302, 400, 401, 402, 500, 501, 502)]:
            s = socket.socket(); s.bind(("127.0.0.1", port)); socks.append(s)
        print(base); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
EOF
}
BASE="$(free_base 24181)"
PY="$(command -v python3)"
cat >"$WORK/inventory.yaml" <<EOF
# Loopback test ensemble for Tests/deploy/run.sh (also read by zkctl).
all:
  children:
    zookeeper:
      vars:
        zk_cluster: deploytest
        zk_engine: bundled
        zk_tick_time: 500
        zk_client_port: $BASE
        zk_quorum_port: $((BASE + 100))
        zk_election_port: $((BASE + 200))
        zk_metrics_port: $((BASE + 400))
        zk_admin_port: $((BASE + 500))
        zk_data_dir: $WORK/srv/data
        zk_conf_dir: $WORK/srv/conf
        zk_log_dir: $WORK/srv/log
        zk_4lw_whitelist: [ruok, srvr, stat, mntr, conf]
        ansible_connection: local
        ansible_python_interpreter: $PY
      hosts:
        zk1: {zk_id: 1}
        zk2: {zk_id: 2}
        zk3: {zk_id: 3}
EOF
# Run as root (CI, or an operator's become), the role creates its service account `zookeeper` and the
# servers run as that account, as on a real host; run by a normal user, the servers run as that user.
if [ "$(id -u)" = 0 ]; then
  chmod 755 "$WORK"   # the service account reaches its directories below it
  SERVICE_VARS="zk_manage_user: true"
  SERVICE_USER=zookeeper
else
  SERVICE_VARS="zk_manage_user: false
zk_user: $(id -un)
zk_group: $(id -gn)"
  SERVICE_USER="$(id -un)"
fi
cat >"$WORK/vars.yml" <<EOF
zk_service_manager: script
zk_install_dir: $WORK/opt
$SERVICE_VARS
zk_install_owner: $(id -un)
zk_install_group: $(id -gn)
zk_zkserver_src: $ZKSERVER
zk_health_delay: 1
zk_report_dir: $WORK/reports
zk_backup_dir: $WORK/backups
EOF
PLAY="$WORK/play"
"$ZKCTL" generate ansible -i "$WORK/inventory.yaml" -o "$PLAY" 2>/dev/null
export ANSIBLE_CONFIG="$PLAY/ansible.cfg" ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
# Every playbook run is bounded; the recap lines are kept for the checks below. It runs against
# PLAY_INV with the extra vars in PLAY_VARS.
PLAY_INV="$WORK/inventory.yaml"
PLAY_VARS="$WORK/vars.yml"
run_playbook() {
  local label="$1"; shift
  local log="$WORK/$label.log"
  if timeout 240 ansible-playbook -i "$PLAY_INV" -e "@$PLAY_VARS" "$@" >"$log" 2>&1; then
    echo "-- $label recap:"; sed -n '/PLAY RECAP/,$p' "$log" | grep -E '^[a-z0-9_-]+ +:' | sed 's/^/   /'
    return 0
  fi
  echo "-- $label failed; last lines:" >&2; tail -40 "$log" >&2
  return 1
}
recap_sum() { # sum of one recap counter over hosts
  sed -n '/PLAY RECAP/,$p' "$WORK/$1.log" | grep -oE "(^| )$2=[0-9]+" | cut -d= -f2 | awk '{s += $1} END {print s + 0}'
}

if run_playbook preview "$PLAY/site.yml" --check --diff; then
  if [ ! -e "$WORK/srv" ] && [ ! -e "$WORK/opt" ]; then
    ok "site.yml --check --diff on fresh hosts: $(recap_sum preview changed) changes previewed, nothing written"
  else
    fail "site.yml --check wrote files"
  fi
else
  fail "site.yml --check --diff on fresh hosts"
fi

if run_playbook site-1 "$PLAY/site.yml"; then ok "site.yml deployed $(recap_sum site-1 changed) changes"; else fail "site.yml"; fi

# Every server runs as the service account, with no capabilities.
users=""
for pidfile in "$WORK"/opt/run/*/zookeeper.pid; do
  pid="$(cat "$pidfile")"
  users+="$(stat -c %U "/proc/$pid"):$(awk '/^CapEff:/ {print $2}' "/proc/$pid/status") "
done
expected="$(for _ in 1 2 3; do printf '%s:0000000000000000 ' "$SERVICE_USER"; done)"
if [ "$users" = "$expected" ]; then ok "the 3 servers run as $SERVICE_USER with no capabilities"; else fail "server accounts and capabilities: $users (expected $expected)"; fi

if run_playbook health "$PLAY/health_check.yml"; then
  modes="$(cd "$WORK/reports" && for f in zk1 zk2 zk3; do python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mode"])' "$f.json"; done | sort | tr '\n' ' ')"
  if [ "$modes" = "follower follower leader " ]; then ok "health_check.yml: quorum ($modes)"; else fail "health_check.yml modes: $modes"; fi
else
  fail "health_check.yml"
fi
# The deployed servers serve /metrics under the names the generated alert rules read.
served=0
for i in 0 1 2; do
  if python3 -c 'import sys, urllib.request; t = urllib.request.urlopen(sys.argv[1], timeout=10).read().decode(); sys.exit(0 if "\nznode_count " in t and "election_time_count " in t else 1)' \
       "http://127.0.0.1:$((BASE + 400 + i))/metrics"; then served=$((served + 1)); fi
done
if [ "$served" = 3 ]; then ok "the 3 servers serve /metrics on zk_metrics_port (znode_count, election_time_count)"; else fail "/metrics served by $served of 3 servers"; fi
if command -v promtool >/dev/null; then
  if promtool check rules "$PLAY/monitoring/zookeeper-rules.yml" >"$WORK/promtool.log" 2>&1; then
    ok "promtool check rules monitoring/zookeeper-rules.yml: $(grep -o '[0-9]* rules found' "$WORK/promtool.log")"
  else
    fail "promtool check rules"; cat "$WORK/promtool.log" >&2
  fi
fi

if run_playbook site-2 "$PLAY/site.yml"; then
  changed="$(recap_sum site-2 changed)"
  if [ "$changed" = 0 ]; then ok "second site.yml: changed=0 on every host"; else fail "second site.yml changed $changed"; fi
else
  fail "second site.yml"
fi

if run_playbook check-diff "$PLAY/site.yml" --check --diff; then
  changed="$(recap_sum check-diff changed)"
  if [ "$changed" = 0 ]; then ok "site.yml --check --diff: no differences"; else fail "--check --diff reports $changed changes"; fi
else
  fail "site.yml --check --diff"
fi

step "Rolling restart, upgrade and a config change under a write probe"
CONNECT="127.0.0.1:$BASE,127.0.0.1:$((BASE + 1)),127.0.0.1:$((BASE + 2))"
python3 Tests/deploy/probe.py --connect "$CONNECT" --stop-file "$WORK/probe.stop" --out "$WORK/probe.json" --max-seconds 200 \
  >"$WORK/probe.log" 2>&1 &
PROBE_PID=$!
sleep 2
pids_before="$(cat "$WORK"/opt/run/*/zookeeper.pid | sort | tr '\n' ' ')"
if run_playbook rolling "$PLAY/rolling_restart.yml"; then
  order="$(awk '/TASK \[zk : Restart with the start\/stop script\]/ {getline; print $2}' "$WORK/rolling.log" | tr -d '[]' | tr '\n' ' ')"
  ok "rolling_restart.yml completed (restart order: $order)"
else
  fail "rolling_restart.yml"
fi
# An upgrade with the same binary under a new version: staged everywhere, then switched in the
# same rolling order, still under the write probe.
if run_playbook upgrade "$PLAY/upgrade.yml" -e zk_version=0.1.1; then
  target="$(readlink "$WORK/opt/bundled-current")"
  if [ "$target" = "$WORK/opt/bundled-0.1.1" ]; then ok "upgrade.yml switched every server to 0.1.1"; else fail "upgrade.yml: current -> $target"; fi
else
  fail "upgrade.yml"
fi
# A configuration change: the handlers only flag it, and site.yml restarts the flagged servers in
# the rolling order at its end (still under the probe).
pids_upgraded="$(cat "$WORK"/opt/run/*/zookeeper.pid | sort | tr '\n' ' ')"
sed -i 's/^        zk_tick_time: 500$/        zk_tick_time: 500\n        zk_version: "0.1.1"\n        zk_max_client_cnxns: 100/' "$WORK/inventory.yaml"
"$ZKCTL" generate ansible -i "$WORK/inventory.yaml" -o "$PLAY" 2>/dev/null
if run_playbook site-3 "$PLAY/site.yml"; then
  pids_changed="$(cat "$WORK"/opt/run/*/zookeeper.pid | sort | tr '\n' ' ')"
  if [ "$(grep -l '^maxClientCnxns=100$' "$WORK"/srv/conf/deploytest-*/zoo.cfg | wc -l)" = 3 ] && [ "$pids_changed" != "$pids_upgraded" ] &&
    grep -q 'Restart the leader last' "$WORK/site-3.log"; then
    ok "config change: site.yml rewrote zoo.cfg and restarted the servers in the rolling order"
  else
    fail "config change was not rolled out ($pids_upgraded -> $pids_changed)"
  fi
else
  fail "site.yml after a config change"
fi
sleep 2
touch "$WORK/probe.stop"
for _ in $(seq 1 60); do kill -0 "$PROBE_PID" 2>/dev/null || break; sleep 0.5; done
wait "$PROBE_PID" 2>/dev/null || true
PROBE_PID=""
pids_after="$(cat "$WORK"/opt/run/*/zookeeper.pid | sort | tr '\n' ' ')"
if [ -s "$WORK/probe.json" ]; then
  echo "-- probe: $(cat "$WORK/probe.json")"
  probe_failures="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["failures"])' "$WORK/probe.json")"
  probe_writes="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["writes"])' "$WORK/probe.json")"
  if [ "$probe_failures" = 0 ] && [ "$probe_writes" -gt 0 ]; then
    ok "quorum kept during rolling restart, upgrade and config roll-out: $probe_writes writes, 0 failures"
  else
    fail "probe: $probe_failures failed writes of $probe_writes"
  fi
else
  fail "probe produced no summary"; cat "$WORK/probe.log" >&2
fi
if [ "$pids_before" != "$pids_after" ] && [ -n "$pids_after" ]; then ok "every server got a new process"; else fail "servers were not restarted ($pids_before -> $pids_after)"; fi
leader_line="$(grep -n 'Restart the leader last' "$WORK/rolling.log" | head -1 | cut -d: -f1)"
last_restart="$(grep -n 'TASK \[zk : Restart with the start/stop script\]' "$WORK/rolling.log" | tail -1 | cut -d: -f1)"
if [ -n "$leader_line" ] && [ -n "$last_restart" ] && [ "$last_restart" -gt "$leader_line" ]; then ok "the leader was restarted last"; else fail "leader not restarted last"; fi

if run_playbook backup "$PLAY/backup.yml"; then
  if ls "$WORK"/backups/*.tar.gz >/dev/null 2>&1; then ok "backup.yml fetched $(basename "$(ls "$WORK"/backups/*.tar.gz | head -1)")"; else fail "backup.yml wrote no archive"; fi
else
  fail "backup.yml"
fi

step "Real deployment with zk_tls: true: certificates from the zkctl CA, a TLS client"
# The plain ensemble is done: stop it, so the TLS one has the machine.
for s in "$WORK"/opt/run/*/zk-service.sh; do "$s" stop >/dev/null 2>&1 || true; done
TW="$WORK/tls"
TBASE="$(free_base 31181)"
mkdir -p "$TW"
sed -e "s|zk_cluster: deploytest|zk_cluster: deploytls\n        zk_tls: true\n        zk_secure_client_port: $((TBASE + 300))|" \
    -e "s|zk_client_port: $BASE|zk_client_port: $TBASE|" -e "s|zk_quorum_port: $((BASE + 100))|zk_quorum_port: $((TBASE + 100))|" \
    -e "s|zk_election_port: $((BASE + 200))|zk_election_port: $((TBASE + 200))|" -e "s|$WORK/srv/|$TW/srv/|" \
    -e "s|zk_metrics_port: $((BASE + 400))|zk_metrics_port: $((TBASE + 400))|" -e "s|zk_admin_port: $((BASE + 500))|zk_admin_port: $((TBASE + 500))|" \
    -e '/zk_version:/d' -e '/zk_max_client_cnxns:/d' "$WORK/inventory.yaml" >"$TW/inventory.yaml"
sed -e "s|^zk_install_dir: .*|zk_install_dir: $TW/opt|" -e "s|^zk_report_dir: .*|zk_report_dir: $TW/reports|" \
    "$WORK/vars.yml" >"$TW/vars.yml"
TPLAY="$TW/play"
if "$ZKCTL" generate ansible -i "$TW/inventory.yaml" --home "$WORK/zkctl-home" -o "$TPLAY" 2>"$TW/generate.err" &&
   grep -q 'holds the servers. private keys' "$TW/generate.err" && [ -f "$TPLAY/roles/zk/tasks/tls.yml" ] &&
   [ "$(stat -c %a "$TPLAY"/files/tls/zk{1,2,3}-key.pem | sort -u)" = 600 ] &&
   openssl verify -CAfile "$TPLAY/files/tls/ca.pem" "$TPLAY"/files/tls/zk{1,2,3}-cert.pem >/dev/null; then
  ok "generate ansible with zk_tls: tls.yml, files/tls (keys mode 600, certificates verify against ca.pem), warning printed"
else
  fail "generate ansible with zk_tls"; cat "$TW/generate.err" >&2
fi
export ANSIBLE_CONFIG="$TPLAY/ansible.cfg"
PLAY_INV="$TW/inventory.yaml"
PLAY_VARS="$TW/vars.yml"
if run_playbook tls-site "$TPLAY/site.yml"; then
  cfgs=("$TW"/srv/conf/deploytls-*/zoo.cfg)
  if [ "$(grep -l '^sslQuorum=true$' "${cfgs[@]}" | wc -l)" = 3 ] &&
     [ "$(stat -c %a "$TW"/srv/conf/deploytls-*/tls/keystore.pem | sort -u)" = 600 ]; then
    ok "site.yml deployed the TLS ensemble: $(recap_sum tls-site changed) changes, sslQuorum in every zoo.cfg, key stores mode 600"
  else
    fail "TLS deployment: zoo.cfg or key store not as expected"
  fi
else
  fail "site.yml with zk_tls"
fi
# Every server's TLS port, with the client identity from the same CA (`zkctl tls init`'s client-cert.pem).
T="$WORK/zkctl-home/clusters/deploytls/tls"
if timeout 60 python3 - "$T" "$((TBASE + 300))" >"$TW/kazoo.log" 2>&1 <<'EOF'
import sys
from kazoo.client import KazooClient
tls, base = sys.argv[1], int(sys.argv[2])
for i in range(3):
    zk = KazooClient(hosts=f"127.0.0.1:{base + i}", use_ssl=True, verify_certs=True, ca=f"{tls}/ca.pem",
                     certfile=f"{tls}/client-cert.pem", keyfile=f"{tls}/client-key.pem", timeout=10)
    zk.start(timeout=15)
    if i == 0:
        zk.ensure_path("/tls-check")
        zk.set("/tls-check", b"over tls")
    zk.sync("/tls-check")
    data, _ = zk.get("/tls-check")
    assert data == b"over tls", data
    print(f"127.0.0.1:{base + i}: TLS session 0x{zk.client_id[0]:x} read {data!r}")
    zk.stop(); zk.close()
EOF
then
  ok "kazoo over TLS (verified against the zkctl CA) on all 3 TLS ports: $(grep -c 'TLS session' "$TW/kazoo.log") sessions"
else
  fail "kazoo over TLS"; cat "$TW/kazoo.log" >&2
fi
# Members talk TLS too: server 1's election port presents its certificate, which verifies against the CA.
if timeout 20 openssl s_client -connect "127.0.0.1:$((TBASE + 200))" -CAfile "$TPLAY/files/tls/ca.pem" -verify_return_error \
     -verify_ip 127.0.0.1 -cert "$T/client-cert.pem" -key "$T/client-key.pem" </dev/null >"$TW/s_client.log" 2>&1 &&
   grep -q 'Verify return code: 0 (ok)' "$TW/s_client.log" && grep -q 'CN = deploytls server 1 (zk1)' "$TW/s_client.log"; then
  ok "openssl s_client: server 1's election port speaks TLS with its certificate from the CA"
else
  fail "election port TLS"; tail -20 "$TW/s_client.log" >&2
fi
if run_playbook tls-health "$TPLAY/health_check.yml"; then
  modes="$(cd "$TW/reports" && for f in zk1 zk2 zk3; do python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mode"])' "$f.json"; done | sort | tr '\n' ' ')"
  if [ "$modes" = "follower follower leader " ]; then ok "health_check.yml with TLS: quorum ($modes)"; else fail "TLS health_check.yml modes: $modes"; fi
else
  fail "health_check.yml with TLS"
fi
if run_playbook tls-site-2 "$TPLAY/site.yml"; then
  changed="$(recap_sum tls-site-2 changed)"
  if [ "$changed" = 0 ]; then ok "second site.yml with TLS: changed=0 on every host"; else fail "second TLS site.yml changed $changed"; fi
else
  fail "second site.yml with TLS"
fi
for s in "$TW"/opt/run/*/zk-service.sh; do "$s" stop >/dev/null 2>&1 || true; done

step "zkctl k8s restart, upgrade and scale 3 -> 5 -> 3 against a process-backed cluster (Tests/deploy/k8s_e2e.py)"
# The stand-in kubectl reaches Tests/deploy/kube_standin.py, which runs the generated pods as pod_check.py
# does (StatefulSet controller, kubelet probes, exec, port-forward); zkctl runs as $ZK_RUN_AS under a writer.
if [ "$(id -u)" = 0 ]; then
  if (cd Tests && ZK_RUN_AS="${ZK_RUN_AS:-nobody}" timeout 1200 python3 -m deploy.k8s_e2e --zkctl "$(abs "$ZKCTL")" \
        --zkserver "$(abs "$ZKSERVER")") >"$WORK/k8s_e2e.log" 2>&1; then
    sed 's/^/   /' "$WORK/k8s_e2e.log"
    ok "k8s_e2e.py: zkctl k8s against the process-backed cluster ($(tail -1 "$WORK/k8s_e2e.log"))"
  else
    sed 's/^/   /' "$WORK/k8s_e2e.log" >&2
    fail "k8s_e2e.py: $(tail -1 "$WORK/k8s_e2e.log")"
  fi
else
  echo "SKIP: NOT ROOT, so Tests/deploy/k8s_e2e.py did not run: zkctl k8s was NOT exercised end to end" >&2
fi

step "Static checks of the Dockerfile (no Docker daemon here)"
if [ -f Dockerfile ] && grep -q '^FROM .* AS build' Dockerfile && grep -q '^USER ' Dockerfile &&
  [ "$(grep -c '^FROM ' Dockerfile)" -ge 2 ]; then
  ok "Dockerfile: multi-stage, non-root"
else
  fail "Dockerfile missing, single-stage or running as root"
fi

echo
echo "deploy checks took $(( $(date +%s) - START ))s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
