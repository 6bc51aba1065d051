#!/usr/bin/env bash
# Delete the Techne Assets stack of one environment: infra/teardown.sh dev|prod [--yes]
#
# Empties the input, output and work buckets (every object version and delete marker: the
# input and output buckets are versioned), then deletes the stack and waits for it to go.
# The ECR repository is emptied by CloudFormation (EmptyOnDelete). In prod the database has
# deletion protection and a final snapshot, and the tracking table has deletion protection:
# turn those off first if you really mean to delete prod.
set -euo pipefail

usage() { echo "usage: $0 dev|prod [--yes]" >&2; exit 2; }
die() { echo "teardown: $*" >&2; exit 1; }

[ $# -ge 1 ] || usage
ENVIRONMENT=$1; shift
case "$ENVIRONMENT" in dev|prod) ;; *) usage ;; esac
ASSUME_YES=0
for arg in "$@"; do
  case "$arg" in
    --yes|-y) ASSUME_YES=1 ;;
    *) usage ;;
  esac
done
STACK=${STACK_NAME:-techne-assets-$ENVIRONMENT}

if [ "$ASSUME_YES" != 1 ]; then
  echo "This deletes stack $STACK and EVERY video and document in its buckets."
  printf 'Type the stack name to confirm: '
  ANSWER=""
  read -r ANSWER || true
  [ "$ANSWER" = "$STACK" ] || die "not confirmed; nothing was deleted"
fi

command -v aws >/dev/null 2>&1 || die "aws is required"
command -v python3 >/dev/null 2>&1 || die "python3 is required"

output() {
  aws cloudformation describe-stacks --stack-name "$STACK" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text 2>/dev/null || true
}

# Delete every version and delete marker, 1000 keys per request.
empty_bucket() {
  local bucket=$1 page
  [ -n "$bucket" ] && [ "$bucket" != None ] || return 0
  aws s3api head-bucket --bucket "$bucket" >/dev/null 2>&1 || return 0
  echo "teardown: emptying s3://$bucket"
  while :; do
    page=$(aws s3api list-object-versions --bucket "$bucket" --max-items 1000 \
      --query '{Objects: [Versions, DeleteMarkers][][].{Key: Key, VersionId: VersionId}}' \
      --output json)
    if [ "$(printf '%s' "$page" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["Objects"] or []))')" = 0 ]; then
      break
    fi
    printf '%s' "$page" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({"Objects": d["Objects"], "Quiet": True}))' \
      > "${TMPDIR:-/tmp}/techne-teardown-delete.json"
    aws s3api delete-objects --bucket "$bucket" \
      --delete "file://${TMPDIR:-/tmp}/techne-teardown-delete.json" >/dev/null
  done
}

for key in InputBucket OutputBucket WorkBucket; do
  empty_bucket "$(output "$key")"
done

echo "teardown: deleting stack $STACK"
aws cloudformation delete-stack --stack-name "$STACK"
aws cloudformation wait stack-delete-complete --stack-name "$STACK"
echo "teardown: $STACK deleted"
