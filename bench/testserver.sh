# Sourced by bench/profile.sh and bench/memory-ratio.sh (from the repository
# root): `start SERVER-FLAGS...` starts the test API server on a free port,
# stopping the one before, and sets $url. Its output goes to $server_log (set
# it before). The server is stopped when the script exits.
server_pid=""
trap '[ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true' EXIT

start() {
  [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
  target/release/pagewise-testserver --port 0 "$@" >"$server_log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do grep -q '^listening on ' "$server_log" && break; sleep 0.1; done
  url=$(sed -n 's/^listening on //p' "$server_log")
}
