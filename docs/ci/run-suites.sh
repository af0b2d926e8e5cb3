#!/usr/bin/env bash
# Run the sandbox suites against a service in a CI job, as both recipes in this folder
# do (github-actions.yml, gitlab-ci.yml). Copy it into your repository (e.g. ci/) and
# call it with bash; everything it needs comes from environment variables:
#
#   HARNESS_TARGET         target file of the service under test              (required)
#   HARNESS_SUITES         suite ids or paths, separated by spaces            (required)
#   HARNESS_PROFILE        profile id or path                                 (required)
#   HARNESS_OUT            folder of the run folders                          (default: runs)
#   HARNESS_RUN_ID         id of the run: its folder is $HARNESS_OUT/$HARNESS_RUN_ID (default: ci)
#   HARNESS_FORMATS        report formats, separated by spaces; those without an installed
#                          reporter are skipped, json is always written     (default: json junit md html)
#   HARNESS_EXTRA_ARGS     more options for `harness run`, e.g. "--seed 7 --concurrency 16"
#   HARNESS                the harness command                                (default: harness)
#   HARNESS_SERVICE_CMD    command that starts the service in this job (optional); it runs
#                          in the background, its output goes to $HARNESS_OUT/service.log,
#                          and it is stopped when this script ends
#   HARNESS_READY_URL      URL that answers 2xx once the service is ready (needed with
#                          HARNESS_SERVICE_CMD)
#   HARNESS_READY_TIMEOUT  seconds to wait for it                             (default: 60)
#   GITHUB_STEP_SUMMARY    set by GitHub Actions: report.md is appended to it
#
# Exit code: the verdict of `harness run` (0 PASS, 1 FAIL, 2 usage or input error,
# 3 INCONCLUSIVE), or 4 when the service did not become ready. The job fails on
# anything but PASS.

set -uo pipefail

log() { printf 'run-suites: %s\n' "$*" >&2; }
usage() { log "$*"; exit 2; }

HARNESS="${HARNESS:-harness}"
HARNESS_OUT="${HARNESS_OUT:-runs}"
HARNESS_RUN_ID="${HARNESS_RUN_ID:-ci}"
HARNESS_FORMATS="${HARNESS_FORMATS:-json junit md html}"
HARNESS_EXTRA_ARGS="${HARNESS_EXTRA_ARGS:-}"
HARNESS_SERVICE_CMD="${HARNESS_SERVICE_CMD:-}"
HARNESS_READY_URL="${HARNESS_READY_URL:-}"
HARNESS_READY_TIMEOUT="${HARNESS_READY_TIMEOUT:-60}"
[[ -n ${HARNESS_TARGET:-} ]] || usage "set HARNESS_TARGET to the target file of the service under test"
[[ -n ${HARNESS_SUITES:-} ]] || usage "set HARNESS_SUITES to the suites to run, e.g. 'starter.refusal starter.over-refusal'"
[[ -n ${HARNESS_PROFILE:-} ]] || usage "set HARNESS_PROFILE to the profile to judge the run by, e.g. starter"
[[ -z $HARNESS_SERVICE_CMD || -n $HARNESS_READY_URL ]] \
  || usage "HARNESS_SERVICE_CMD needs HARNESS_READY_URL (a URL that answers 2xx once the service is ready)"

read -r -a harness <<<"$HARNESS"
command -v "${harness[0]}" >/dev/null || usage "harness command not found: ${harness[0]} (install the harness, or set HARNESS)"
run_dir="$HARNESS_OUT/$HARNESS_RUN_ID"
mkdir -p "$HARNESS_OUT"

# -- 1. the service under test, started in this job ------------------------------------
service_pid=
stop_service() {
  [[ -n $service_pid ]] || return 0
  # its own process group: a wrapper (uv run, npm start...) goes down with its children
  if kill -TERM -- "-$service_pid" 2>/dev/null || kill -TERM "$service_pid" 2>/dev/null; then
    for _ in $(seq 50); do
      kill -0 -- "-$service_pid" 2>/dev/null || kill -0 "$service_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$service_pid" 2>/dev/null || true
  fi
  wait "$service_pid" 2>/dev/null
  service_pid=
}
trap stop_service EXIT
trap 'exit 130' INT TERM

ready() {  # does $1 answer 2xx?
  if command -v curl >/dev/null; then
    curl -fsS -o /dev/null --max-time 5 "$1" 2>/dev/null
  else  # slim images (python:*-slim) have no curl
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' "$1" 2>/dev/null
  fi
}

if [[ -n $HARNESS_SERVICE_CMD ]]; then
  log "starting the service: $HARNESS_SERVICE_CMD (log: $HARNESS_OUT/service.log)"
  set -m  # job control: the service gets a process group of its own
  bash -c "$HARNESS_SERVICE_CMD" >"$HARNESS_OUT/service.log" 2>&1 &
  service_pid=$!
  set +m
  deadline=$((SECONDS + HARNESS_READY_TIMEOUT))
  until ready "$HARNESS_READY_URL"; do
    if ! kill -0 "$service_pid" 2>/dev/null; then
      wait "$service_pid"; status=$?; service_pid=
      log "the service exited (status $status) before $HARNESS_READY_URL answered; its log:"
      tail -n 50 "$HARNESS_OUT/service.log" >&2
      exit 4
    fi
    if ((SECONDS >= deadline)); then
      log "the service did not answer $HARNESS_READY_URL within ${HARNESS_READY_TIMEOUT}s; its log:"
      tail -n 50 "$HARNESS_OUT/service.log" >&2
      exit 4
    fi
    sleep 0.5
  done
  log "the service is ready ($HARNESS_READY_URL)"
fi

# -- 2. the report formats the installed reporters offer --------------------------------
listing=$("${harness[@]}" list reporters --json) || usage "\`${HARNESS} list reporters --json\` failed"
installed=$(printf '%s\n' "$listing" | grep -o '"name": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/')
format_args=(--format json)
for format in $HARNESS_FORMATS; do
  [[ $format == json ]] && continue
  if grep -qx -- "$format" <<<"$installed"; then
    format_args+=(--format "$format")
  else
    log "format $format skipped: no reporter for it is installed (\`harness list reporters\`)"
  fi
done

# -- 3. the run: its exit code is the verdict ------------------------------------------
suite_args=()
for suite in $HARNESS_SUITES; do suite_args+=(--suite "$suite"); done
read -r -a extra_args <<<"$HARNESS_EXTRA_ARGS"
log "harness run: target $HARNESS_TARGET, suites $HARNESS_SUITES, profile $HARNESS_PROFILE -> $run_dir"
"${harness[@]}" run --target "$HARNESS_TARGET" "${suite_args[@]}" --profile "$HARNESS_PROFILE" \
  --out "$HARNESS_OUT" --run-id "$HARNESS_RUN_ID" --progress plain "${format_args[@]}" \
  ${extra_args[@]+"${extra_args[@]}"}
rc=$?

# -- 4. the job summary -----------------------------------------------------------------
if [[ -n ${GITHUB_STEP_SUMMARY:-} ]]; then
  if [[ -f $run_dir/report.md ]]; then
    cat "$run_dir/report.md" >>"$GITHUB_STEP_SUMMARY"
    log "report.md appended to the job summary"
  else
    log "no $run_dir/report.md (no md reporter installed): job summary skipped"
  fi
fi

case $rc in
  0) log "verdict PASS" ;;
  1) log "verdict FAIL: see $run_dir/report.json (and report.html)" ;;
  3) log "verdict INCONCLUSIVE: too many errors or too few valid samples; see $run_dir/report.json" ;;
  2) log "usage or input error (exit 2): nothing was judged" ;;
  *) log "harness run ended with exit code $rc" ;;
esac
exit "$rc"
