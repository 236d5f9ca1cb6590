#!/usr/bin/env bash
# Starts a local Flare cluster: API on :8000, S3 on :9000, data nodes on :9001-9003, data
# under ./data, logs under ./data/logs. Ctrl-C stops every process it started. The api signs
# its requests to the data nodes with ./data/cluster-secret and the admin API (the flare CLI)
# takes ./data/admin-token; both are made on the first run (mode 0600) and kept.
# FLARE_BIN_DIR, FLARE_DATA_DIR, FLARE_API_PORT, FLARE_S3_PORT and FLARE_DATANODE_PORTS
# ("9001 9002 9003") change where the binaries, the data and the ports are.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${FLARE_BIN_DIR:-$(swift build -c release --show-bin-path)}"
DATA="${FLARE_DATA_DIR:-./data}"
API_PORT="${FLARE_API_PORT:-8000}"
S3_PORT="${FLARE_S3_PORT:-9000}"
read -r -a DATANODE_PORTS <<<"${FLARE_DATANODE_PORTS:-9001 9002 9003}"
mkdir -p "$DATA/logs"
# The cluster secret (api → data nodes) and the admin token, made once, readable by this user only.
random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
SECRET="$DATA/cluster-secret"
if [ ! -s "$SECRET" ]; then
  (umask 077; printf '# cluster secret: api nodes sign with the first line, data nodes accept every line\n%s\n' "$(random_hex 32)" >"$SECRET")
fi
TOKEN="$DATA/admin-token"
if [ ! -s "$TOKEN" ]; then
  (umask 077; printf '%s\n' "$(random_hex 24)" >"$TOKEN")
fi
pids=()
stop() {
  # Ignored, not reset to their defaults: more signals come while the nodes stop (make forwards
  # the SIGTERM it gets, a supervisor signals the whole group, Ctrl-C is pressed again), and
  # none may kill this script halfway and leave nodes running on their ports.
  trap '' INT TERM HUP PIPE
  trap - EXIT
  # The signals first: the nodes run in sessions of their own, so nothing else stops them, and
  # the output may be gone (a closed terminal, a pipe into a killed `tee`): a failed echo must
  # not end this function early.
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  { echo; echo "stopping Flare (pids ${pids[*]})"; } 2>/dev/null || true
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap 'stop; exit 0' INT TERM HUP
trap stop EXIT

wait_for() {  # wait_for URL NAME PID LOG
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    if ! kill -0 "$3" 2>/dev/null; then echo "$2 exited; see $4:"; tail -5 "$4"; exit 1; fi
    sleep 0.1
  done
  echo "$2 did not answer $1 within 10 s; see $4"; exit 1
}

# Each process runs in a session of its own (setsid): Ctrl-C reaches the whole foreground
# process group, and nodes that died of it on their own would look, to the `wait` below, like
# a crash. This script alone gets the signal, and stops them in order.
nodes=""
for port in "${DATANODE_PORTS[@]}"; do
  setsid "$BIN/datanode" --port "$port" --data-dir "$DATA/datanode-$port" --cluster-secret-file "$SECRET" \
    >>"$DATA/logs/datanode-$port.log" 2>&1 &
  pids+=($!)
  wait_for "http://127.0.0.1:$port/health" "datanode :$port" "$!" "$DATA/logs/datanode-$port.log"
  nodes="${nodes:+$nodes,}127.0.0.1:$port"
done
# One S3 key, made on the first run and kept (readable by this user only).
KEYS="$DATA/s3-credentials"
if [ ! -s "$KEYS" ]; then
  umask 077
  printf '# ACCESS_KEY SECRET_KEY, one pair per line\nFLARE%s %s\n' \
    "$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)" "$(head -c 30 /dev/urandom | base64 | tr -d '/+=\n')" >"$KEYS"
fi
read -r ACCESS_KEY SECRET_KEY < <(grep -v '^#' "$KEYS" | head -1)
setsid "$BIN/api" --port "$API_PORT" --s3-port "$S3_PORT" --s3-credentials "$KEYS" --datanodes "$nodes" \
  --metadata "$DATA/meta.sqlite" --cluster-secret-file "$SECRET" --admin-token-file "$TOKEN" >>"$DATA/logs/api.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$API_PORT/health" "api :$API_PORT" "$!" "$DATA/logs/api.log"

cat <<MSG
Flare is running: API http://localhost:$API_PORT, data nodes on ${nodes//127.0.0.1/}, data in $DATA, logs in $DATA/logs.
Try:
  curl -T file.zip http://localhost:$API_PORT/object/my-object          # upload (streams; any size)
  curl -X PUT --data-binary @file.zip http://localhost:$API_PORT/object/my-object   # also fine below 1 GiB
  curl http://localhost:$API_PORT/object/my-object > out.zip && cmp file.zip out.zip
  curl "http://localhost:$API_PORT/objects?prefix=my"
  curl -F file=@file.zip http://localhost:$API_PORT/object/my-form-upload   # a form upload (what browsers send)
  curl -X DELETE http://localhost:$API_PORT/object/my-object
Web console: http://localhost:$API_PORT/ui/ (paste the admin token from $TOKEN)
S3 on http://localhost:$S3_PORT (the native objects are in the bucket flare):
  export AWS_ACCESS_KEY_ID=$ACCESS_KEY AWS_SECRET_ACCESS_KEY=$SECRET_KEY AWS_DEFAULT_REGION=us-east-1
  aws --endpoint-url http://localhost:$S3_PORT s3 mb s3://photos
  aws --endpoint-url http://localhost:$S3_PORT s3 cp file.zip s3://photos/file.zip
Admin (the flare CLI; the admin token is in $TOKEN):
  export FLARE_API=http://localhost:$API_PORT FLARE_ADMIN_TOKEN_FILE=$TOKEN
  $BIN/flare status
Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}" || true
echo "a Flare process exited unexpectedly; see $DATA/logs"
exit 1
